/* mem.h — memory advice for big buffers.
 *
 * mem_advise_huge(p, n): ask the kernel to back the 2 MB-aligned interior of
 * [p, p+n) with transparent huge pages (madvise MADV_HUGEPAGE; a no-op where
 * the system does not allow it or n < 4 MB).  Call it before first touching
 * the buffer: filling 46 MB of fresh memory (a resnet18's weights, or the
 * staging buffer they are read into) then takes ~23 page faults instead of
 * ~11,000, which was a third of `fastc predict`'s start-up.  Advice only: the
 * contents and every result are unchanged. */
#ifndef FASTC_CORE_MEM_H
#define FASTC_CORE_MEM_H

#include <stddef.h>

void mem_advise_huge(void *p, size_t n);

#endif
