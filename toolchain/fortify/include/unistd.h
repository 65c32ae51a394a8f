/*
 * Kimigayo OS fortify wrapper for <unistd.h>.
 * musl's own <unistd.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See fortify-common.h and ../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <unistd.h>

#ifndef __KIMIGAYO_FORTIFY_UNISTD_H
#define __KIMIGAYO_FORTIFY_UNISTD_H

#include "fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* ---- raw I/O buffers: whole-object size ---- */

#ifndef read
__KIMIGAYO_FORTIFY_REAL(read);
__KIMIGAYO_FORTIFY_FN ssize_t read(int __kf_fd, void *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __kimigayo_real_read(__kf_fd, __kf_dst, __kf_n);
}
#endif

#ifndef pread
__KIMIGAYO_FORTIFY_REAL(pread);
__KIMIGAYO_FORTIFY_FN ssize_t pread(int __kf_fd, void *__kf_dst, size_t __kf_n, off_t __kf_off)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __kimigayo_real_pread(__kf_fd, __kf_dst, __kf_n, __kf_off);
}
#endif

#ifndef write
__KIMIGAYO_FORTIFY_REAL(write);
__KIMIGAYO_FORTIFY_FN ssize_t write(int __kf_fd, const void *__kf_src, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __kimigayo_real_write(__kf_fd, __kf_src, __kf_n);
}
#endif

#ifndef pwrite
__KIMIGAYO_FORTIFY_REAL(pwrite);
__KIMIGAYO_FORTIFY_FN ssize_t pwrite(int __kf_fd, const void *__kf_src, size_t __kf_n,
	off_t __kf_off)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __kimigayo_real_pwrite(__kf_fd, __kf_src, __kf_n, __kf_off);
}
#endif

/* ---- strings and typed arrays: subobject size at levels 2 and 3 ---- */

#ifndef readlink
__KIMIGAYO_FORTIFY_REAL(readlink);
__KIMIGAYO_FORTIFY_FN ssize_t readlink(const char *__restrict __kf_path,
	char *__restrict __kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_readlink(__kf_path, __kf_dst, __kf_n);
}
#endif

#ifndef readlinkat
__KIMIGAYO_FORTIFY_REAL(readlinkat);
__KIMIGAYO_FORTIFY_FN ssize_t readlinkat(int __kf_fd, const char *__restrict __kf_path,
	char *__restrict __kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_readlinkat(__kf_fd, __kf_path, __kf_dst, __kf_n);
}
#endif

#ifndef getcwd
__KIMIGAYO_FORTIFY_REAL(getcwd);
__KIMIGAYO_FORTIFY_FN char *getcwd(char *__kf_dst, size_t __kf_n)
{
	/* getcwd(NULL, n) allocates; only a caller buffer is checked. */
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_getcwd(__kf_dst, __kf_n);
}
#endif

#ifndef gethostname
__KIMIGAYO_FORTIFY_REAL(gethostname);
__KIMIGAYO_FORTIFY_FN int gethostname(char *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_gethostname(__kf_dst, __kf_n);
}
#endif

#ifndef getlogin_r
__KIMIGAYO_FORTIFY_REAL(getlogin_r);
__KIMIGAYO_FORTIFY_FN int getlogin_r(char *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_getlogin_r(__kf_dst, __kf_n);
}
#endif

#ifndef ttyname_r
__KIMIGAYO_FORTIFY_REAL(ttyname_r);
__KIMIGAYO_FORTIFY_FN int ttyname_r(int __kf_fd, char *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_ttyname_r(__kf_fd, __kf_dst, __kf_n);
}
#endif

#ifndef confstr
__KIMIGAYO_FORTIFY_REAL(confstr);
__KIMIGAYO_FORTIFY_FN size_t confstr(int __kf_name, char *__kf_dst, size_t __kf_n)
{
	/* confstr(name, NULL, 0) asks for the length only. */
	__KIMIGAYO_FORTIFY_CHECK(__kf_dst != 0 && __kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_confstr(__kf_name, __kf_dst, __kf_n);
}
#endif

#ifndef getgroups
__KIMIGAYO_FORTIFY_REAL(getgroups);
__KIMIGAYO_FORTIFY_FN int getgroups(int __kf_n, gid_t __kf_list[])
{
	size_t __kf_b = __KIMIGAYO_BOS(__kf_list);

	/* getgroups(0, list) asks for the count only and writes nothing. */
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > 0 && __KIMIGAYO_TOO_MANY(__kf_n, sizeof(gid_t), __kf_b));
	return __kimigayo_real_getgroups(__kf_n, __kf_list);
}
#endif

#if defined(_GNU_SOURCE) || defined(_BSD_SOURCE)

#ifndef getdomainname
__KIMIGAYO_FORTIFY_REAL(getdomainname);
__KIMIGAYO_FORTIFY_FN int getdomainname(char *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS(__kf_dst));
	return __kimigayo_real_getdomainname(__kf_dst, __kf_n);
}
#endif

#ifndef getentropy
__KIMIGAYO_FORTIFY_REAL(getentropy);
__KIMIGAYO_FORTIFY_FN int getentropy(void *__kf_dst, size_t __kf_n)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __kimigayo_real_getentropy(__kf_dst, __kf_n);
}
#endif

#endif /* _GNU_SOURCE || _BSD_SOURCE */

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_UNISTD_H */
