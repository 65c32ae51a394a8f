/*
 * Kimigayo OS fortify wrapper for <string.h>.
 * musl's own <string.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <string.h>

#ifndef __KIMIGAYO_FORTIFY_STRING_H
#define __KIMIGAYO_FORTIFY_STRING_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* ---- raw memory: whole-object size (type 0); the source is checked too ---- */

#ifndef memcpy
__KIMIGAYO_FORTIFY_FN void *memcpy(void *__restrict __kf_dst,
	const void *__restrict __kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst)
		|| __kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __builtin_memcpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef memmove
__KIMIGAYO_FORTIFY_FN void *memmove(void *__kf_dst, const void *__kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst)
		|| __kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __builtin_memmove(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef memset
__KIMIGAYO_FORTIFY_FN void *memset(void *__kf_dst, int __kf_c, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __builtin_memset(__kf_dst, __kf_c, __kf_n);
}
#endif

/* ---- strings: subobject size (type 1) at levels 2 and 3 ---- */

#ifndef strcpy
__KIMIGAYO_FORTIFY_FN char *strcpy(char *__restrict __kf_dst, const char *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_len;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_len = __builtin_strlen(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_len >= __kf_b);
		return (char *)__builtin_memcpy(__kf_dst, __kf_src, __kf_len + 1);
	}
	return __builtin_strcpy(__kf_dst, __kf_src);
}
#endif

#ifndef strncpy
__KIMIGAYO_FORTIFY_FN char *strncpy(char *__restrict __kf_dst,
	const char *__restrict __kf_src, size_t __kf_n)
{
	/* strncpy always writes exactly n bytes (it pads with NULs). */
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __builtin_strncpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef strcat
__KIMIGAYO_FORTIFY_FN char *strcat(char *__restrict __kf_dst, const char *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_dlen, __kf_slen;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_dlen = __builtin_strlen(__kf_dst);
		__kf_slen = __builtin_strlen(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_dlen >= __kf_b || __kf_slen >= __kf_b - __kf_dlen);
		__builtin_memcpy(__kf_dst + __kf_dlen, __kf_src, __kf_slen + 1);
		return __kf_dst;
	}
	return __builtin_strcat(__kf_dst, __kf_src);
}
#endif

#ifndef strncat
__KIMIGAYO_FORTIFY_FN char *strncat(char *__restrict __kf_dst,
	const char *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_dlen, __kf_slen;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		/* Appends min(strlen(src), n) bytes and a NUL. */
		__kf_dlen = __builtin_strlen(__kf_dst);
		for (__kf_slen = 0; __kf_slen < __kf_n && __kf_src[__kf_slen]; __kf_slen++)
			;
		__KIMIGAYO_FORTIFY_CHECK(__kf_dlen >= __kf_b || __kf_slen >= __kf_b - __kf_dlen);
	}
	return __builtin_strncat(__kf_dst, __kf_src, __kf_n);
}
#endif

#if defined(_POSIX_SOURCE) || defined(_POSIX_C_SOURCE) \
 || defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) \
 || defined(_BSD_SOURCE)

#ifndef stpcpy
__KIMIGAYO_FORTIFY_FN char *stpcpy(char *__restrict __kf_dst, const char *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_len;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_len = __builtin_strlen(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_len >= __kf_b);
		__builtin_memcpy(__kf_dst, __kf_src, __kf_len + 1);
		return __kf_dst + __kf_len;
	}
	return __builtin_stpcpy(__kf_dst, __kf_src);
}
#endif

#ifndef stpncpy
__KIMIGAYO_FORTIFY_FN char *stpncpy(char *__restrict __kf_dst,
	const char *__restrict __kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __builtin_stpncpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#endif /* POSIX */

#if defined(_GNU_SOURCE) || defined(_BSD_SOURCE)

#ifndef strlcpy
__KIMIGAYO_FORTIFY_REAL(strlcpy);
__KIMIGAYO_FORTIFY_FN size_t strlcpy(char *__kf_dst, const char *__kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_strlcpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef strlcat
__KIMIGAYO_FORTIFY_REAL(strlcat);
__KIMIGAYO_FORTIFY_FN size_t strlcat(char *__kf_dst, const char *__kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_strlcat(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef explicit_bzero
__KIMIGAYO_FORTIFY_REAL(explicit_bzero);
__KIMIGAYO_FORTIFY_FN void explicit_bzero(void *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	__kimigayo_real_explicit_bzero(__kf_dst, __kf_n);
}
#endif

#endif /* _GNU_SOURCE || _BSD_SOURCE */

#ifdef _GNU_SOURCE
#ifndef mempcpy
__KIMIGAYO_FORTIFY_FN void *mempcpy(void *__kf_dst, const void *__kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst)
		|| __kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __builtin_mempcpy(__kf_dst, __kf_src, __kf_n);
}
#endif
#endif /* _GNU_SOURCE */

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_STRING_H */
