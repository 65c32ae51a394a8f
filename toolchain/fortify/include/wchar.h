/*
 * Kimigayo OS fortify wrapper for <wchar.h>.
 * musl's own <wchar.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * Sizes and counts are in wchar_t units where the function counts them so.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <wchar.h>

#ifndef __KIMIGAYO_FORTIFY_WCHAR_H
#define __KIMIGAYO_FORTIFY_WCHAR_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* musl's wcslen under a private name, which a user macro of the public
 * name cannot shadow (wcscpy, wcscat and wcpcpy checks). */
extern size_t __kimigayo_real_wcslen_(const wchar_t *) __asm__("wcslen");

/* ---- wide memory: whole-object size ---- */

#ifndef wmemcpy
__KIMIGAYO_FORTIFY_REAL(wmemcpy);
__KIMIGAYO_FORTIFY_FN wchar_t *wmemcpy(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_bd = __KIMIGAYO_BOS0(__kf_dst), __kf_bs = __KIMIGAYO_BOS0(__kf_src);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_bd)
		|| __KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_bs));
	return __kimigayo_real_wmemcpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef wmemmove
__KIMIGAYO_FORTIFY_REAL(wmemmove);
__KIMIGAYO_FORTIFY_FN wchar_t *wmemmove(wchar_t *__kf_dst, const wchar_t *__kf_src, size_t __kf_n)
{
	size_t __kf_bd = __KIMIGAYO_BOS0(__kf_dst), __kf_bs = __KIMIGAYO_BOS0(__kf_src);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_bd)
		|| __KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_bs));
	return __kimigayo_real_wmemmove(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef wmemset
__KIMIGAYO_FORTIFY_REAL(wmemset);
__KIMIGAYO_FORTIFY_FN wchar_t *wmemset(wchar_t *__kf_dst, wchar_t __kf_c, size_t __kf_n)
{
	size_t __kf_b = __KIMIGAYO_BOS0(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	return __kimigayo_real_wmemset(__kf_dst, __kf_c, __kf_n);
}
#endif

/* ---- wide strings: subobject size at levels 2 and 3 ---- */

#ifndef wcscpy
__KIMIGAYO_FORTIFY_REAL(wcscpy);
__KIMIGAYO_FORTIFY_FN wchar_t *wcscpy(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_len;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_len = __kimigayo_real_wcslen_(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_len >= __kf_b / sizeof(wchar_t));
	}
	return __kimigayo_real_wcscpy(__kf_dst, __kf_src);
}
#endif

#ifndef wcsncpy
__KIMIGAYO_FORTIFY_REAL(wcsncpy);
__KIMIGAYO_FORTIFY_FN wchar_t *wcsncpy(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);

	/* Like strncpy, always writes n wide characters. */
	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	return __kimigayo_real_wcsncpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef wcscat
__KIMIGAYO_FORTIFY_REAL(wcscat);
__KIMIGAYO_FORTIFY_FN wchar_t *wcscat(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_cap, __kf_dlen, __kf_slen;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_cap = __kf_b / sizeof(wchar_t);
		__kf_dlen = __kimigayo_real_wcslen_(__kf_dst);
		__kf_slen = __kimigayo_real_wcslen_(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_dlen >= __kf_cap || __kf_slen >= __kf_cap - __kf_dlen);
	}
	return __kimigayo_real_wcscat(__kf_dst, __kf_src);
}
#endif

#ifndef wcsncat
__KIMIGAYO_FORTIFY_REAL(wcsncat);
__KIMIGAYO_FORTIFY_FN wchar_t *wcsncat(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_cap, __kf_dlen, __kf_slen;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_cap = __kf_b / sizeof(wchar_t);
		__kf_dlen = __kimigayo_real_wcslen_(__kf_dst);
		for (__kf_slen = 0; __kf_slen < __kf_n && __kf_src[__kf_slen]; __kf_slen++)
			;
		__KIMIGAYO_FORTIFY_CHECK(__kf_dlen >= __kf_cap || __kf_slen >= __kf_cap - __kf_dlen);
	}
	return __kimigayo_real_wcsncat(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef fgetws
__KIMIGAYO_FORTIFY_REAL(fgetws);
__KIMIGAYO_FORTIFY_FN wchar_t *fgetws(wchar_t *__restrict __kf_dst, int __kf_n,
	FILE *__restrict __kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__kf_n > 0 && __KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	return __kimigayo_real_fgetws(__kf_dst, __kf_n, __kf_f);
}
#endif

/* ---- conversions into caller buffers ---- */

#ifndef wcrtomb
__KIMIGAYO_FORTIFY_REAL(wcrtomb);
__KIMIGAYO_FORTIFY_FN size_t wcrtomb(char *__restrict __kf_dst, wchar_t __kf_wc,
	mbstate_t *__restrict __kf_st)
{
	size_t __kf_b, __kf_mb;

	/* wcrtomb(NULL, ...) writes into an internal buffer. */
	if (__kf_dst != 0) {
		__kf_b = __KIMIGAYO_BOS(__kf_dst);
		if (__kf_b < __KIMIGAYO_MB_LEN_MAX) {
			__kf_mb = __kimigayo_mb_cur_max();
			__KIMIGAYO_FORTIFY_CHECK(__kf_b < __kf_mb);
		}
	}
	return __kimigayo_real_wcrtomb(__kf_dst, __kf_wc, __kf_st);
}
#endif

#ifndef mbsrtowcs
__KIMIGAYO_FORTIFY_REAL(mbsrtowcs);
__KIMIGAYO_FORTIFY_FN size_t mbsrtowcs(wchar_t *__restrict __kf_dst,
	const char **__restrict __kf_src, size_t __kf_n, mbstate_t *__restrict __kf_st)
{
	size_t __kf_b;

	if (__kf_dst != 0) {
		__kf_b = __KIMIGAYO_BOS(__kf_dst);
		__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	}
	return __kimigayo_real_mbsrtowcs(__kf_dst, __kf_src, __kf_n, __kf_st);
}
#endif

#ifndef wcsrtombs
__KIMIGAYO_FORTIFY_REAL(wcsrtombs);
__KIMIGAYO_FORTIFY_FN size_t wcsrtombs(char *__restrict __kf_dst,
	const wchar_t **__restrict __kf_src, size_t __kf_n, mbstate_t *__restrict __kf_st)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_wcsrtombs(__kf_dst, __kf_src, __kf_n, __kf_st);
}
#endif

#if defined(_POSIX_SOURCE) || defined(_POSIX_C_SOURCE) \
 || defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) || defined(_BSD_SOURCE)

#ifndef wcpcpy
__KIMIGAYO_FORTIFY_REAL(wcpcpy);
__KIMIGAYO_FORTIFY_FN wchar_t *wcpcpy(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	size_t __kf_len;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_len = __kimigayo_real_wcslen_(__kf_src);
		__KIMIGAYO_FORTIFY_CHECK(__kf_len >= __kf_b / sizeof(wchar_t));
	}
	return __kimigayo_real_wcpcpy(__kf_dst, __kf_src);
}
#endif

#ifndef wcpncpy
__KIMIGAYO_FORTIFY_REAL(wcpncpy);
__KIMIGAYO_FORTIFY_FN wchar_t *wcpncpy(wchar_t *__restrict __kf_dst,
	const wchar_t *__restrict __kf_src, size_t __kf_n)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	return __kimigayo_real_wcpncpy(__kf_dst, __kf_src, __kf_n);
}
#endif

#ifndef mbsnrtowcs
__KIMIGAYO_FORTIFY_REAL(mbsnrtowcs);
__KIMIGAYO_FORTIFY_FN size_t mbsnrtowcs(wchar_t *__restrict __kf_dst,
	const char **__restrict __kf_src, size_t __kf_nms, size_t __kf_n,
	mbstate_t *__restrict __kf_st)
{
	size_t __kf_b;

	if (__kf_dst != 0) {
		__kf_b = __KIMIGAYO_BOS(__kf_dst);
		__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	}
	return __kimigayo_real_mbsnrtowcs(__kf_dst, __kf_src, __kf_nms, __kf_n, __kf_st);
}
#endif

#ifndef wcsnrtombs
__KIMIGAYO_FORTIFY_REAL(wcsnrtombs);
__KIMIGAYO_FORTIFY_FN size_t wcsnrtombs(char *__restrict __kf_dst,
	const wchar_t **__restrict __kf_src, size_t __kf_nwc, size_t __kf_n,
	mbstate_t *__restrict __kf_st)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_wcsnrtombs(__kf_dst, __kf_src, __kf_nwc, __kf_n, __kf_st);
}
#endif

#endif /* POSIX */

#ifdef _GNU_SOURCE
#ifndef fgetws_unlocked
__KIMIGAYO_FORTIFY_REAL(fgetws_unlocked);
__KIMIGAYO_FORTIFY_FN wchar_t *fgetws_unlocked(wchar_t *__restrict __kf_dst, int __kf_n,
	FILE *__restrict __kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__kf_n > 0 && __KIMIGAYO_TOO_MANY(__kf_n, sizeof(wchar_t), __kf_b));
	return __kimigayo_real_fgetws_unlocked(__kf_dst, __kf_n, __kf_f);
}
#endif
#endif /* _GNU_SOURCE */

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_WCHAR_H */
