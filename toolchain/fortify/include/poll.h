/*
 * Kimigayo OS fortify wrapper for <poll.h>.
 * musl's own <poll.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <poll.h>

#ifndef __KIMIGAYO_FORTIFY_POLL_H
#define __KIMIGAYO_FORTIFY_POLL_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel reads and writes back nfds entries of the array. */

#ifndef poll
__KIMIGAYO_FORTIFY_REAL(poll);
__KIMIGAYO_FORTIFY_FN int poll(struct pollfd *__kf_fds, nfds_t __kf_n, int __kf_timeout)
{
	__SIZE_TYPE__ __kf_b = __KIMIGAYO_BOS(__kf_fds);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(struct pollfd), __kf_b));
	return __kimigayo_real_poll(__kf_fds, __kf_n, __kf_timeout);
}
#endif

/* With _REDIR_TIME64 (32-bit targets) musl binds ppoll to another symbol
 * name; the wrapper is left out there rather than guess that name. */
#if (defined(_GNU_SOURCE) || defined(_BSD_SOURCE)) && !(defined(_REDIR_TIME64) && _REDIR_TIME64)
#ifndef ppoll
__KIMIGAYO_FORTIFY_REAL(ppoll);
__KIMIGAYO_FORTIFY_FN int ppoll(struct pollfd *__kf_fds, nfds_t __kf_n,
	const struct timespec *__kf_timeout, const sigset_t *__kf_mask)
{
	__SIZE_TYPE__ __kf_b = __KIMIGAYO_BOS(__kf_fds);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(struct pollfd), __kf_b));
	return __kimigayo_real_ppoll(__kf_fds, __kf_n, __kf_timeout, __kf_mask);
}
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_POLL_H */
