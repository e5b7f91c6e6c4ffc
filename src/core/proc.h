/* proc.h — re-executing this program without losing its name.
 *
 * Some settings are read by libraries only when they are loaded (OpenBLAS's
 * OPENBLAS_CORETYPE, libgomp's OMP_WAIT_POLICY), so fastc sets them and runs
 * itself again: execv("/proc/self/exe").  The kernel then names the process
 * after that path's last part, "exe", which is what ps, top and kernel logs
 * (the OOM killer's "Killed process 123 (exe)") would show.  proc_reexec
 * passes the name on in the environment and proc_restore_name, first thing in
 * the new image, gives it back (prctl PR_SET_NAME): the process keeps the name
 * it was started with ("fastc").
 */
#ifndef FASTC_CORE_PROC_H
#define FASTC_CORE_PROC_H

/* Re-execute /proc/self/exe with argv and the current environment.  Returns
 * only when execv failed (the caller carries on in this image). */
void proc_reexec(char **argv);

/* Call first thing in main(): after a proc_reexec, set the process name back
 * and remove the variable that carried it; otherwise do nothing. */
void proc_restore_name(void);

#endif
