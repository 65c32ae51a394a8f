/*
 * Kimigayo OS fortify wrapper for <strings.h>.
 * musl's own <strings.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <strings.h>

#ifndef __KIMIGAYO_FORTIFY_STRINGS_H
#define __KIMIGAYO_FORTIFY_STRINGS_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* Same feature test as musl's declaration of bzero. */
#if defined(_GNU_SOURCE) || defined(_BSD_SOURCE) || defined(_POSIX_SOURCE) \
 || (defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE+0 < 200809L) \
 || (defined(_XOPEN_SOURCE) && _XOPEN_SOURCE+0 < 700)

#ifndef bzero
__KIMIGAYO_FORTIFY_FN void bzero(void *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	__builtin_memset(__kf_dst, 0, __kf_n);
}
#endif

#ifndef bcopy
__KIMIGAYO_FORTIFY_FN void bcopy(const void *__kf_src, void *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst)
		|| __kf_n > __KIMIGAYO_BOS0(__kf_src));
	__builtin_memmove(__kf_dst, __kf_src, __kf_n);
}
#endif

#endif

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_STRINGS_H */
