/* gendocs.c — fastc's manual page and bash completion, written from the same
 * tables as `fastc --help` (src/cmd/args.c, the config schema) so the three
 * never disagree.  `make install` runs it:
 *
 *   gendocs man               fastc(1) in troff on stdout
 *   gendocs bash-completion   the completion script on stdout
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "man")) cmd_print_man(stdout);
    else if (argc == 2 && !strcmp(argv[1], "bash-completion")) cmd_print_bash_completion(stdout);
    else {
        fprintf(stderr, "usage: gendocs man | bash-completion\n");
        return 2;
    }
    return fflush(stdout) ? 1 : 0;
}
