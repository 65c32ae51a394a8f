/*
 * Kimigayo OS fortify wrapper for <stdlib.h>.
 * musl's own <stdlib.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <stdlib.h>

#ifndef __KIMIGAYO_FORTIFY_STDLIB_H
#define __KIMIGAYO_FORTIFY_STDLIB_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

#ifndef wctomb
__KIMIGAYO_FORTIFY_REAL(wctomb);
__KIMIGAYO_FORTIFY_FN int wctomb(char *__kf_dst, wchar_t __kf_wc)
{
	size_t __kf_b, __kf_mb;

	/* wctomb(NULL, wc) only reports whether the encoding has state. */
	if (__kf_dst != 0) {
		__kf_b = __KIMIGAYO_BOS(__kf_dst);
		/* The first test is a constant for known sizes and skips the
		 * locale query whenever the buffer holds any character. */
		if (__kf_b < __KIMIGAYO_MB_LEN_MAX) {
			__kf_mb = __kimigayo_mb_cur_max();
			__KIMIGAYO_FORTIFY_CHECK(__kf_b < __kf_mb);
		}
	}
	return __kimigayo_real_wctomb(__kf_dst, __kf_wc);
}
#endif

#ifndef mbstowcs
__KIMIGAYO_FORTIFY_REAL(mbstowcs);
__KIMIGAYO_FORTIFY_FN size_t mbstowcs(wchar_t *__restrict __kf_dst,
	const char *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_b;

	/* mbstowcs(NULL, s, 0) only counts. */
	if (__kf_dst != 0) {
		__kf_b = __KIMIGAYO_BOS(__kf_dst);
		__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	}
	return __kimigayo_real_mbstowcs(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef wcstombs
__KIMIGAYO_FORTIFY_REAL(wcstombs);
__KIMIGAYO_FORTIFY_FN size_t wcstombs(char *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_wcstombs(__kf_dst, __kf_src, __kf_n);
}
#endif

#if defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) || defined(_BSD_SOURCE)
#ifndef realpath
__KIMIGAYO_FORTIFY_REAL(realpath);
__KIMIGAYO_FORTIFY_FN char *realpath(const char *__restrict __kf_path, char *__restrict __kf_dst)
{
	/* A caller buffer must hold PATH_MAX bytes; realpath(p, NULL)
	 * allocates and is not checked. */
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __KIMIGAYO_BOS(__kf_dst) < __KIMIGAYO_PATH_MAX);
	return __kimigayo_real_realpath(__kf_path, __kf_dst);
}
#endif
#endif

#ifdef _GNU_SOURCE
#ifndef ptsname_r
__KIMIGAYO_FORTIFY_REAL(ptsname_r);
__KIMIGAYO_FORTIFY_FN int ptsname_r(int __kf_fd, char *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_ptsname_r(__kf_fd, __kf_dst, __kf_n);
}
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_STDLIB_H */
