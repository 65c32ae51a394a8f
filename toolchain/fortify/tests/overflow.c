/*
 * Kimigayo OS fortify header test: deliberate buffer overflows.
 *
 *   overflow list      print every case name, one per line
 *   overflow CASE      run one case
 *
 * Each case passes a fixed-size buffer to a fortified function together with
 * a length that exceeds the buffer.  The length is 16 + strlen(CASE), so it
 * is only known at run time and the compiler cannot reject the call.
 *
 * Built with -O2 -D_FORTIFY_SOURCE=2 (or 3) against the Kimigayo fortify
 * headers, every case must die in __builtin_trap() (SIGILL on x86_64, SIGTRAP
 * on aarch64) before the overflow happens.  Built with -O2 -U_FORTIFY_SOURCE
 * -fno-stack-protector, every case must survive and print "NO-TRAP CASE":
 * the overflows are designed to land only in spare bytes that belong to the
 * program (the rest of a larger struct, or spare room in a static arena),
 * so the unprotected run is reliable.
 *
 * Two kinds of buffers are used:
 *  - "raw" cases get memory from carve(), an allocator declared with
 *    alloc_size(1), so __builtin_object_size knows the requested size (as it
 *    does for malloc), while the memory really lies in a big static arena.
 *    These trap at every fortify level (whole-object size).
 *  - "field" cases write into the first member of a struct on the stack;
 *    the overflow runs into the next member.  These need the subobject size
 *    (type 1) used for strings at _FORTIFY_SOURCE >= 2; at level 1 they do
 *    not trap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wchar.h>

#define SMALL 16	/* size of every target buffer, in elements */
#define SLACK 512	/* spare bytes after every target */

/* ---- memory the overflows may scribble on ---- */

static unsigned char arena[16384] __attribute__((__aligned__(16)));
static size_t arena_used;

#if defined(__GNUC__) && __GNUC__ >= 8
#define OPAQUE __attribute__((__noipa__))
#else
#define OPAQUE __attribute__((__noinline__, __noclone__))
#endif

/* Returns n bytes that the compiler believes form a whole object of size n,
 * followed by SLACK spare bytes that belong to the arena. */
static void *carve(size_t n) OPAQUE __attribute__((__alloc_size__(1)));
static void *carve(size_t n)
{
	void *p;

	if (arena_used + n + SLACK > sizeof arena)
		abort();
	p = arena + arena_used;
	arena_used += (n + SLACK + 15) & ~(size_t)15;
	return p;
}

struct rec {
	char name[SMALL];
	char slack[SLACK];
};

struct wrec {
	wchar_t name[SMALL];
	wchar_t slack[SLACK];
};

struct mbrec {
	char mb[2];
	char slack[SLACK];
};

static char srcbuf[SLACK];	/* n-1 'A's and a NUL */
static wchar_t wsrcbuf[SLACK];	/* the same, wide */
static char bigbuf[4 * SLACK];	/* large destination for read-side cases */

static const char *cname;
static size_t n;		/* the overflowing length */

static void survived(void)
{
	printf("NO-TRAP %s\n", cname);
	fflush(stdout);
	exit(0);
}

/* A pipe holding at least n bytes. */
static int pipe_with_data(void)
{
	int p[2];

	if (pipe(p) != 0 || write(p[1], srcbuf, sizeof srcbuf) < 0)
		abort();
	return p[0];
}

/* A connected socket pair whose first end has n bytes to read. */
static int socket_with_data(int *other)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	if (send(sv[1], srcbuf, sizeof srcbuf, 0) < 0)
		abort();
	*other = sv[1];
	return sv[0];
}

static FILE *stream_with_data(void)
{
	FILE *f = fmemopen(srcbuf, sizeof srcbuf, "r");

	if (!f)
		abort();
	return f;
}

static void do_vsprintf(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsprintf(r->name, fmt, ap);
	va_end(ap);
}

static void do_vsnprintf(struct rec *r, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->name, len, fmt, ap);
	va_end(ap);
}

/* ---- the cases ---- */

#define CASES(X) \
	X(memcpy) X(memcpy_src) X(memmove) X(memmove_src) X(memset) \
	X(mempcpy) X(bzero) X(bcopy) X(explicit_bzero) \
	X(strcpy) X(strncpy) X(strcat) X(strncat) X(stpcpy) X(stpncpy) \
	X(strlcpy) X(strlcat) \
	X(sprintf) X(snprintf) X(vsprintf) X(vsnprintf) \
	X(fgets) X(fgets_unlocked) X(fread) X(fread_unlocked) X(fwrite) \
	X(read) X(pread) X(write) X(pwrite) X(readlink) X(readlinkat) \
	X(getcwd) X(gethostname) X(getdomainname) X(getlogin_r) X(ttyname_r) \
	X(confstr) X(getgroups) X(getentropy) \
	X(realpath) X(mbstowcs) X(wcstombs) X(wctomb) X(ptsname_r) \
	X(recv) X(recvfrom) X(send) X(sendto) \
	X(poll) X(ppoll) X(fd_set) X(fd_clr) X(fd_isset) \
	X(wmemcpy) X(wmemmove) X(wmemset) X(wcscpy) X(wcsncpy) X(wcscat) \
	X(wcsncat) X(wcpcpy) X(wcpncpy) X(fgetws) X(wcrtomb) X(mbsrtowcs) \
	X(wcsrtombs) X(mbsnrtowcs) X(wcsnrtombs)

static int run(const char *c)
{
	struct rec r;
	struct wrec w;
	struct mbrec m;
	mbstate_t st;
	int other;

	memset(&r, 0, sizeof r);
	memset(&w, 0, sizeof w);
	memset(&m, 0, sizeof m);
	memset(&st, 0, sizeof st);

#define IS(x) (strcmp(c, #x) == 0)
	/* raw memory */
	if (IS(memcpy)) {
		memcpy(carve(SMALL), srcbuf, n);
	} else if (IS(memcpy_src)) {
		memcpy(bigbuf, carve(SMALL), n);
	} else if (IS(memmove)) {
		memmove(carve(SMALL), srcbuf, n);
	} else if (IS(memmove_src)) {
		memmove(bigbuf, carve(SMALL), n);
	} else if (IS(memset)) {
		memset(carve(SMALL), 'x', n);
	} else if (IS(mempcpy)) {
		mempcpy(carve(SMALL), srcbuf, n);
	} else if (IS(bzero)) {
		bzero(carve(SMALL), n);
	} else if (IS(bcopy)) {
		bcopy(srcbuf, carve(SMALL), n);
	} else if (IS(explicit_bzero)) {
		explicit_bzero(carve(SMALL), n);
	}
	/* strings into a struct member */
	else if (IS(strcpy)) {
		strcpy(r.name, srcbuf);
	} else if (IS(strncpy)) {
		strncpy(r.name, srcbuf, n);
	} else if (IS(strcat)) {
		strcpy(r.name, "a");
		strcat(r.name, srcbuf);
	} else if (IS(strncat)) {
		strcpy(r.name, "a");
		strncat(r.name, srcbuf, n);
	} else if (IS(stpcpy)) {
		stpcpy(r.name, srcbuf);
	} else if (IS(stpncpy)) {
		stpncpy(r.name, srcbuf, n);
	} else if (IS(strlcpy)) {
		strlcpy(r.name, srcbuf, n);
	} else if (IS(strlcat)) {
		strlcat(r.name, srcbuf, n);
	} else if (IS(sprintf)) {
		sprintf(r.name, "%s", srcbuf);
	} else if (IS(snprintf)) {
		volatile int len = snprintf(r.name, n, "%s", srcbuf);
		(void)len;
	} else if (IS(vsprintf)) {
		do_vsprintf(&r, "%s", srcbuf);
	} else if (IS(vsnprintf)) {
		do_vsnprintf(&r, n, "%s", srcbuf);
	}
	/* stdio */
	else if (IS(fgets)) {
		fgets(r.name, (int)n, stream_with_data());
	} else if (IS(fgets_unlocked)) {
		fgets_unlocked(r.name, (int)n, stream_with_data());
	} else if (IS(fread)) {
		fread(carve(SMALL), 1, n, stream_with_data());
	} else if (IS(fread_unlocked)) {
		fread_unlocked(carve(SMALL), 1, n, stream_with_data());
	} else if (IS(fwrite)) {
		FILE *f = fmemopen(bigbuf, sizeof bigbuf, "w");
		if (!f)
			abort();
		fwrite(carve(SMALL), 1, n, f);
		fclose(f);
	}
	/* unistd */
	else if (IS(read)) {
		(void)read(pipe_with_data(), carve(SMALL), n);
	} else if (IS(pread)) {
		(void)pread(pipe_with_data(), carve(SMALL), n, 0);
	} else if (IS(write)) {
		int p[2];
		if (pipe(p) != 0)
			abort();
		(void)write(p[1], carve(SMALL), n);
	} else if (IS(pwrite)) {
		int p[2];
		if (pipe(p) != 0)
			abort();
		(void)pwrite(p[1], carve(SMALL), n, 0);
	} else if (IS(readlink)) {
		(void)readlink("/proc/self/exe", r.name, n);
	} else if (IS(readlinkat)) {
		(void)readlinkat(AT_FDCWD, "/proc/self/exe", r.name, n);
	} else if (IS(getcwd)) {
		(void)getcwd(r.name, n);
	} else if (IS(gethostname)) {
		(void)gethostname(r.name, n);
	} else if (IS(getdomainname)) {
		(void)getdomainname(r.name, n);
	} else if (IS(getlogin_r)) {
		(void)getlogin_r(r.name, n);
	} else if (IS(ttyname_r)) {
		(void)ttyname_r(0, r.name, n);
	} else if (IS(confstr)) {
		(void)confstr(_CS_PATH, r.name, n);
	} else if (IS(getgroups)) {
		(void)getgroups((int)n, (gid_t *)carve(SMALL * sizeof(gid_t)));
	} else if (IS(getentropy)) {
		(void)getentropy(carve(SMALL), n);
	}
	/* stdlib */
	else if (IS(realpath)) {
		/* Needs PATH_MAX bytes whatever the path; "/" keeps the
		 * unprotected run inside the struct. */
		(void)realpath("/", r.name);
	} else if (IS(mbstowcs)) {
		mbstowcs(w.name, srcbuf, n);
	} else if (IS(wcstombs)) {
		wcstombs(r.name, wsrcbuf, n);
	} else if (IS(wctomb)) {
		/* A 2-byte buffer is too small once characters take up to 4. */
		if (!setlocale(LC_CTYPE, "C.UTF-8"))
			abort();
		(void)wctomb(m.mb, (wchar_t)(0xe9 + n - n));
	} else if (IS(ptsname_r)) {
		(void)ptsname_r(0, r.name, n);
	}
	/* sockets */
	else if (IS(recv)) {
		(void)recv(socket_with_data(&other), carve(SMALL), n, 0);
	} else if (IS(recvfrom)) {
		(void)recvfrom(socket_with_data(&other), carve(SMALL), n, 0, 0, 0);
	} else if (IS(send)) {
		int s = socket_with_data(&other);
		(void)send(other, carve(SMALL), n, 0);
		(void)s;
	} else if (IS(sendto)) {
		int s = socket_with_data(&other);
		(void)sendto(other, carve(SMALL), n, 0, 0, 0);
		(void)s;
	}
	/* poll and select: the spare arena bytes are 0xff, so the extra
	 * pollfd entries have fd -1 and are ignored by the kernel */
	else if (IS(poll)) {
		struct pollfd *fds = carve(sizeof *fds);
		fds[0].fd = -1;
		(void)poll(fds, n / SMALL + n % 2 + 1, 0);
	} else if (IS(ppoll)) {
		struct pollfd *fds = carve(sizeof *fds);
		struct timespec ts = { 0, 0 };
		fds[0].fd = -1;
		(void)ppoll(fds, n / SMALL + n % 2 + 1, &ts, 0);
	} else if (IS(fd_set)) {
		fd_set *s = carve(sizeof(fd_set));
		FD_ZERO(s);
		FD_SET((int)(FD_SETSIZE + n), s);
	} else if (IS(fd_clr)) {
		fd_set *s = carve(sizeof(fd_set));
		FD_ZERO(s);
		FD_CLR((int)(FD_SETSIZE + n), s);
	} else if (IS(fd_isset)) {
		fd_set *s = carve(sizeof(fd_set));
		FD_ZERO(s);
		volatile int isset = FD_ISSET((int)(FD_SETSIZE + n), s);
		(void)isset;
	}
	/* wide characters */
	else if (IS(wmemcpy)) {
		wmemcpy(carve(SMALL * sizeof(wchar_t)), wsrcbuf, n);
	} else if (IS(wmemmove)) {
		wmemmove(carve(SMALL * sizeof(wchar_t)), wsrcbuf, n);
	} else if (IS(wmemset)) {
		wmemset(carve(SMALL * sizeof(wchar_t)), L'x', n);
	} else if (IS(wcscpy)) {
		wcscpy(w.name, wsrcbuf);
	} else if (IS(wcsncpy)) {
		wcsncpy(w.name, wsrcbuf, n);
	} else if (IS(wcscat)) {
		w.name[0] = L'a';
		wcscat(w.name, wsrcbuf);
	} else if (IS(wcsncat)) {
		w.name[0] = L'a';
		wcsncat(w.name, wsrcbuf, n);
	} else if (IS(wcpcpy)) {
		wcpcpy(w.name, wsrcbuf);
	} else if (IS(wcpncpy)) {
		wcpncpy(w.name, wsrcbuf, n);
	} else if (IS(fgetws)) {
		fgetws(w.name, (int)n, stream_with_data());
	} else if (IS(wcrtomb)) {
		if (!setlocale(LC_CTYPE, "C.UTF-8"))
			abort();
		(void)wcrtomb(m.mb, (wchar_t)(0xe9 + n - n), &st);
	} else if (IS(mbsrtowcs)) {
		const char *p = srcbuf;
		mbsrtowcs(w.name, &p, n, &st);
	} else if (IS(wcsrtombs)) {
		const wchar_t *p = wsrcbuf;
		wcsrtombs(r.name, &p, n, &st);
	} else if (IS(mbsnrtowcs)) {
		const char *p = srcbuf;
		mbsnrtowcs(w.name, &p, n, n, &st);
	} else if (IS(wcsnrtombs)) {
		const wchar_t *p = wsrcbuf;
		wcsnrtombs(r.name, &p, n, n, &st);
	} else {
		return -1;
	}
#undef IS
	/* Keep the written buffers alive. */
	__asm__ __volatile__("" : : "r"(&r), "r"(&w), "r"(&m) : "memory");
	return 0;
}

#define NAME(x) #x,
static const char *const names[] = { CASES(NAME) 0 };

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s list | CASE\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "list") == 0) {
		for (i = 0; names[i]; i++)
			puts(names[i]);
		return 0;
	}
	for (i = 0; names[i]; i++)
		if (strcmp(argv[1], names[i]) == 0)
			break;
	if (!names[i]) {
		fprintf(stderr, "%s: unknown case '%s' (try: %s list)\n", argv[0], argv[1], argv[0]);
		return 2;
	}

	cname = argv[1];
	n = SMALL + strlen(argv[1]);	/* always > SMALL, unknown to the compiler */
	memset(arena, 0xff, sizeof arena);
	memset(srcbuf, 'A', n - 1);
	for (i = 0; i < n - 1; i++)
		wsrcbuf[i] = L'A';

	if (run(cname) != 0)
		return 2;
	survived();
	return 0;
}
