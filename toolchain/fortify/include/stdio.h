/*
 * Kimigayo OS fortify wrapper for <stdio.h>.
 * musl's own <stdio.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <stdio.h>

#ifndef __KIMIGAYO_FORTIFY_STDIO_H
#define __KIMIGAYO_FORTIFY_STDIO_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* ---- formatted output: the variadic arguments are forwarded unchanged with
 * __builtin_va_arg_pack(), which exists only in always-inline gnu_inline
 * functions such as these ---- */

#ifndef snprintf
__KIMIGAYO_FORTIFY_FN int snprintf(char *__restrict __kf_dst, size_t __kf_n,
	const char *__restrict __kf_fmt, ...)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __builtin_snprintf(__kf_dst, __kf_n, __kf_fmt, __builtin_va_arg_pack());
}
#endif

#ifndef vsnprintf
__KIMIGAYO_FORTIFY_FN int vsnprintf(char *__restrict __kf_dst, size_t __kf_n,
	const char *__restrict __kf_fmt, __builtin_va_list __kf_ap)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __builtin_vsnprintf(__kf_dst, __kf_n, __kf_fmt, __kf_ap);
}
#endif

/*
 * sprintf/vsprintf into an object of known size b are run as snprintf with
 * limit b; output that did not fit (and so would have overflowed) traps after
 * the truncated write, before the caller can use the result.
 */
#ifndef sprintf
__KIMIGAYO_FORTIFY_FN int sprintf(char *__restrict __kf_dst,
	const char *__restrict __kf_fmt, ...)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	int __kf_r;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_r = __builtin_snprintf(__kf_dst, __kf_b, __kf_fmt, __builtin_va_arg_pack());
		__KIMIGAYO_FORTIFY_CHECK(__kf_r >= 0 && (size_t)__kf_r >= __kf_b);
		return __kf_r;
	}
	return __builtin_sprintf(__kf_dst, __kf_fmt, __builtin_va_arg_pack());
}
#endif

#ifndef vsprintf
__KIMIGAYO_FORTIFY_FN int vsprintf(char *__restrict __kf_dst,
	const char *__restrict __kf_fmt, __builtin_va_list __kf_ap)
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_dst);
	int __kf_r;

	if (__KIMIGAYO_KNOWN(__kf_b)) {
		__kf_r = __builtin_vsnprintf(__kf_dst, __kf_b, __kf_fmt, __kf_ap);
		__KIMIGAYO_FORTIFY_CHECK(__kf_r >= 0 && (size_t)__kf_r >= __kf_b);
		return __kf_r;
	}
	return __builtin_vsprintf(__kf_dst, __kf_fmt, __kf_ap);
}
#endif

/* ---- input into caller buffers ---- */

#ifndef fgets
__KIMIGAYO_FORTIFY_REAL(fgets);
__KIMIGAYO_FORTIFY_FN char *fgets(char *__restrict __kf_dst, int __kf_n,
	FILE *__restrict __kf_f)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > 0 && (size_t)__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_fgets(__kf_dst, __kf_n, __kf_f);
}
#endif

#ifndef fread
__KIMIGAYO_FORTIFY_REAL(fread);
__KIMIGAYO_FORTIFY_FN size_t fread(void *__restrict __kf_dst, size_t __kf_size,
	size_t __kf_nmemb, FILE *__restrict __kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS0(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_KNOWN(__kf_b) && __kf_size != 0
		&& __kf_nmemb > __kf_b / __kf_size);
	return __kimigayo_real_fread(__kf_dst, __kf_size, __kf_nmemb, __kf_f);
}
#endif

/* ---- output from caller buffers (read-side check, whole object) ---- */

#ifndef fwrite
__KIMIGAYO_FORTIFY_FN size_t fwrite(const void *__restrict __kf_src, size_t __kf_size,
	size_t __kf_nmemb, FILE *__restrict __kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS0(__kf_src);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_KNOWN(__kf_b) && __kf_size != 0
		&& __kf_nmemb > __kf_b / __kf_size);
	return __builtin_fwrite(__kf_src, __kf_size, __kf_nmemb, __kf_f);
}
#endif

#if defined(_GNU_SOURCE) || defined(_BSD_SOURCE)

#ifndef fread_unlocked
__KIMIGAYO_FORTIFY_REAL(fread_unlocked);
__KIMIGAYO_FORTIFY_FN size_t fread_unlocked(void *__kf_dst, size_t __kf_size,
	size_t __kf_nmemb, FILE *__kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS0(__kf_dst);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_KNOWN(__kf_b) && __kf_size != 0
		&& __kf_nmemb > __kf_b / __kf_size);
	return __kimigayo_real_fread_unlocked(__kf_dst, __kf_size, __kf_nmemb, __kf_f);
}
#endif

#ifndef fwrite_unlocked
__KIMIGAYO_FORTIFY_REAL(fwrite_unlocked);
__KIMIGAYO_FORTIFY_FN size_t fwrite_unlocked(const void *__kf_src, size_t __kf_size,
	size_t __kf_nmemb, FILE *__kf_f)
{
	size_t __kf_b = __KIMIGAYO_BOS0(__kf_src);

	__KIMIGAYO_FORTIFY_CHECK(__KIMIGAYO_KNOWN(__kf_b) && __kf_size != 0
		&& __kf_nmemb > __kf_b / __kf_size);
	return __kimigayo_real_fwrite_unlocked(__kf_src, __kf_size, __kf_nmemb, __kf_f);
}
#endif

#endif /* _GNU_SOURCE || _BSD_SOURCE */

#ifdef _GNU_SOURCE
#ifndef fgets_unlocked
__KIMIGAYO_FORTIFY_REAL(fgets_unlocked);
__KIMIGAYO_FORTIFY_FN char *fgets_unlocked(char *__kf_dst, int __kf_n, FILE *__kf_f)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > 0 && (size_t)__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_fgets_unlocked(__kf_dst, __kf_n, __kf_f);
}
#endif
#endif /* _GNU_SOURCE */

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_STDIO_H */
