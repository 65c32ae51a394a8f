/*
 * Kimigayo OS fortify wrapper for <sys/select.h>.
 * musl's own <sys/select.h> supplies every declaration; when
 * _FORTIFY_SOURCE is in effect this file redefines FD_SET, FD_CLR and
 * FD_ISSET to check the descriptor against the size of the fd_set object.
 * See ../fortify-common.h and ../../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <sys/select.h>

#ifndef __KIMIGAYO_FORTIFY_SYS_SELECT_H
#define __KIMIGAYO_FORTIFY_SYS_SELECT_H

#include "../fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

/*
 * Index of the word of fds_bits that holds descriptor fd, trapping when that
 * word lies outside an fd_set object of b bytes.  The size is the whole
 * object's, as known where the macro is used, so a larger fd_set allocated
 * for more than FD_SETSIZE descriptors is fine, and a set whose size is not
 * known costs nothing.  A negative descriptor becomes a huge index, as it
 * does in musl's own macros, and so traps too.  b comes from the
 * compile-time __builtin_object_size at every level: it never evaluates
 * the set expression, so the macro arguments keep musl's evaluation count.
 */
static __inline __attribute__((__always_inline__, __artificial__))
unsigned long __kimigayo_fd_elt(unsigned long __kf_fd, __SIZE_TYPE__ __kf_b)
{
	unsigned long __kf_word = __kf_fd / (8 * sizeof(long));

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_word + 1, sizeof(long), __kf_b));
	return __kf_word;
}

#if defined(FD_SET) && defined(FD_CLR) && defined(FD_ISSET)
#undef FD_SET
#undef FD_CLR
#undef FD_ISSET
#define FD_SET(d, s) \
	((s)->fds_bits[__kimigayo_fd_elt((d), __builtin_object_size((s), 0))] \
	 |= (1UL<<((d)%(8*sizeof(long)))))
#define FD_CLR(d, s) \
	((s)->fds_bits[__kimigayo_fd_elt((d), __builtin_object_size((s), 0))] \
	 &= ~(1UL<<((d)%(8*sizeof(long)))))
#define FD_ISSET(d, s) \
	!!((s)->fds_bits[__kimigayo_fd_elt((d), __builtin_object_size((s), 0))] \
	 & (1UL<<((d)%(8*sizeof(long)))))
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_SYS_SELECT_H */
