/*
 * Kimigayo OS fortify wrapper for <sys/socket.h>.
 * musl's own <sys/socket.h> supplies every declaration; this file only adds
 * checked inline wrappers when _FORTIFY_SOURCE is in effect.
 * See ../fortify-common.h and ../../README.md.
 */
#ifdef __GNUC__
#pragma GCC system_header
#endif

#include_next <sys/socket.h>

#ifndef __KIMIGAYO_FORTIFY_SYS_SOCKET_H
#define __KIMIGAYO_FORTIFY_SYS_SOCKET_H

#include "../fortify-common.h"

#if __KIMIGAYO_FORTIFY_LEVEL > 0

#ifdef __cplusplus
extern "C" {
#endif

/* Message buffers are raw memory: whole-object size, both directions. */

#ifndef recv
__KIMIGAYO_FORTIFY_REAL(recv);
__KIMIGAYO_FORTIFY_FN ssize_t recv(int __kf_fd, void *__kf_dst, size_t __kf_n, int __kf_flags)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __kimigayo_real_recv(__kf_fd, __kf_dst, __kf_n, __kf_flags);
}
#endif

#ifndef recvfrom
__KIMIGAYO_FORTIFY_REAL(recvfrom);
__KIMIGAYO_FORTIFY_FN ssize_t recvfrom(int __kf_fd, void *__restrict __kf_dst, size_t __kf_n,
	int __kf_flags, struct sockaddr *__restrict __kf_addr, socklen_t *__restrict __kf_alen)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_dst));
	return __kimigayo_real_recvfrom(__kf_fd, __kf_dst, __kf_n, __kf_flags, __kf_addr, __kf_alen);
}
#endif

#ifndef send
__KIMIGAYO_FORTIFY_REAL(send);
__KIMIGAYO_FORTIFY_FN ssize_t send(int __kf_fd, const void *__kf_src, size_t __kf_n, int __kf_flags)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __kimigayo_real_send(__kf_fd, __kf_src, __kf_n, __kf_flags);
}
#endif

#ifndef sendto
__KIMIGAYO_FORTIFY_REAL(sendto);
__KIMIGAYO_FORTIFY_FN ssize_t sendto(int __kf_fd, const void *__kf_src, size_t __kf_n,
	int __kf_flags, const struct sockaddr *__kf_addr, socklen_t __kf_alen)
{
	__KIMIGAYO_FORTIFY_CHECK(__kf_n > __KIMIGAYO_BOS0(__kf_src));
	return __kimigayo_real_sendto(__kf_fd, __kf_src, __kf_n, __kf_flags, __kf_addr, __kf_alen);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_SYS_SOCKET_H */
