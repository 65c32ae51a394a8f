/*
 * Kimigayo OS fortify headers for musl: shared definitions.
 *
 * This file is internal to the fortify header set (toolchain/fortify/include).
 * Each wrapper header (string.h, stdio.h, ...) first #include_next's musl's
 * real header and then includes this file.  When fortification is active,
 * __KIMIGAYO_FORTIFY_LEVEL is 1, 2 or 3; otherwise it is 0 and the wrapper
 * headers add nothing at all to musl's declarations.
 *
 * Fortification is active only when all of these hold at the first inclusion
 * in a translation unit:
 *   - _FORTIFY_SOURCE is defined to a value > 0,
 *   - the compiler optimizes (__OPTIMIZE__: -O1 and up, -Os, -Og),
 *   - the compiler is GCC 4.3 or newer (gnu_inline, artificial,
 *     __builtin_va_arg_pack and __builtin_object_size are needed),
 *   - __KIMIGAYO_FORTIFY_DISABLE is not defined (escape hatch per file or
 *     per package: -D__KIMIGAYO_FORTIFY_DISABLE).
 * Clang is not supported (no __builtin_va_arg_pack, and its handling of
 * gnu_inline redefinitions of library builtins differs); under clang the
 * headers are pass-through.
 */
#ifndef __KIMIGAYO_FORTIFY_COMMON_H
#define __KIMIGAYO_FORTIFY_COMMON_H

#ifdef __GNUC__
#pragma GCC system_header
#endif

#if defined(_FORTIFY_SOURCE) && (_FORTIFY_SOURCE + 0) > 0 \
 && defined(__OPTIMIZE__) && (__OPTIMIZE__ + 0) > 0 \
 && defined(__GNUC__) && !defined(__clang__) \
 && (__GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 3)) \
 && !defined(__KIMIGAYO_FORTIFY_DISABLE)

/* Level 3 needs __builtin_dynamic_object_size (GCC 12); without it level 3
 * behaves as level 2. */
# if (_FORTIFY_SOURCE + 0) >= 3 && defined(__has_builtin)
#  if __has_builtin(__builtin_dynamic_object_size)
#   define __KIMIGAYO_FORTIFY_LEVEL 3
#  endif
# endif
# ifndef __KIMIGAYO_FORTIFY_LEVEL
#  if (_FORTIFY_SOURCE + 0) >= 2
#   define __KIMIGAYO_FORTIFY_LEVEL 2
#  else
#   define __KIMIGAYO_FORTIFY_LEVEL 1
#  endif
# endif

#else
# define __KIMIGAYO_FORTIFY_LEVEL 0
#endif

#if __KIMIGAYO_FORTIFY_LEVEL > 0

/*
 * A checked wrapper: never emitted as a function of its own (gnu_inline
 * "extern inline"), always inlined, and invisible in debug info.  Taking the
 * address of the public name still yields musl's real function, because the
 * gnu_inline body exists only for inlining.
 */
#define __KIMIGAYO_FORTIFY_FN \
	extern __inline __attribute__((__always_inline__, __gnu_inline__, __artificial__))

/*
 * A second name for musl's real function, used by wrappers of functions that
 * GCC has no __builtin_ form for.  The asm label makes calls through it go to
 * the real symbol, so a wrapper calling it does not recurse into itself.
 * (Functions that GCC knows as builtins are called through __builtin_NAME
 * instead, which keeps GCC's inline expansion of e.g. small memcpy calls.)
 */
#define __KIMIGAYO_FORTIFY_REAL(name) \
	extern __typeof__(name) __kimigayo_real_##name __asm__(#name)

/* What happens when a check fails: an immediate, unconditional crash that
 * needs no libc (ud2 -> SIGILL on x86_64, brk -> SIGTRAP on aarch64). */
#define __KIMIGAYO_FORTIFY_TRAP() __builtin_trap()

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Compile-time diagnostic.  When the optimizer proves that a check fails
 * whenever the call is reached, the overflowing call is replaced by the trap
 * and the compiler's own -Wstringop-overflow/-Warray-bounds warnings for it
 * disappear with it; a call to this function takes their place, so GCC
 * reports "call to '__kimigayo_fortify_overflow' declared with attribute
 * warning" with the inlining chain that points at the caller's line
 * (-Wattribute-warning, on by default).  The call is emitted only on such a
 * path, right before the trap, and goes to musl's memcpy with a length of 0,
 * which does nothing.
 */
extern void *__kimigayo_fortify_overflow(void *, const void *, __SIZE_TYPE__)
	__asm__("memcpy")
	__attribute__((__warning__("_FORTIFY_SOURCE: the buffer is too small for this call "
		"whenever it is reached; it will trap at run time")));

/* musl's MB_CUR_MAX function under a private name (wctomb, wcrtomb). */
extern __SIZE_TYPE__ __kimigayo_mb_cur_max(void) __asm__("__ctype_get_mb_cur_max");

#ifdef __cplusplus
}
#endif

/* Trap when cond (side-effect free) holds. */
#define __KIMIGAYO_FORTIFY_CHECK(cond) \
	do { \
		if (__builtin_constant_p(cond) && (cond)) \
			__kimigayo_fortify_overflow(0, 0, 0); \
		if (cond) \
			__KIMIGAYO_FORTIFY_TRAP(); \
	} while (0)

/*
 * Object sizes.  __KIMIGAYO_BOS0 is the size of the whole enclosing object
 * (type 0): used for raw memory (void *) arguments, for every read-side
 * check and at level 1.  __KIMIGAYO_BOS is the size of the closest
 * enclosing subobject (type 1) at levels 2 and 3: used for strings and typed
 * arrays (char *, wchar_t *, struct pollfd *, gid_t *), as glibc does.
 * Level 3 uses the dynamic variants, which also see sizes only known at run
 * time (e.g. malloc(n)).  An unknown size is (size_t)-1, and every check
 * compares against it first so that it folds away completely.
 */
#if __KIMIGAYO_FORTIFY_LEVEL >= 3
# define __KIMIGAYO_BOS0(p) __builtin_dynamic_object_size((p), 0)
# define __KIMIGAYO_BOS(p) __builtin_dynamic_object_size((p), 1)
#elif __KIMIGAYO_FORTIFY_LEVEL == 2
# define __KIMIGAYO_BOS0(p) __builtin_object_size((p), 0)
# define __KIMIGAYO_BOS(p) __builtin_object_size((p), 1)
#else
# define __KIMIGAYO_BOS0(p) __builtin_object_size((p), 0)
# define __KIMIGAYO_BOS(p) __builtin_object_size((p), 0)
#endif

#define __KIMIGAYO_UNKNOWN_SIZE ((__SIZE_TYPE__)-1)
#define __KIMIGAYO_KNOWN(b) ((b) != __KIMIGAYO_UNKNOWN_SIZE)

/* (n) elements of (elsize) bytes do not fit in an object of (b) bytes.
 * Division instead of multiplication: cannot overflow. */
#define __KIMIGAYO_TOO_MANY(n, elsize, b) \
	(__KIMIGAYO_KNOWN(b) && (__SIZE_TYPE__)(n) > (b) / (elsize))

/* musl's PATH_MAX (realpath) and MB_LEN_MAX (longest multibyte character),
 * repeated here so that stdlib.h and wchar.h need not include limits.h. */
#define __KIMIGAYO_PATH_MAX 4096
#define __KIMIGAYO_MB_LEN_MAX 4

/*
 * Audit marker.  GCC >= 11 leaves -D options out of what -frecord-gcc-switches
 * records, and wrappers that call musl's ordinary symbols leave no __*_chk
 * imports, so each translation unit compiled with active wrappers says so in
 * .comment (merged by the linker, kept by strip):
 *     kimigayo-fortify _FORTIFY_SOURCE=<effective level>
 */
#if __KIMIGAYO_FORTIFY_LEVEL >= 3
__asm__(".ident \"kimigayo-fortify _FORTIFY_SOURCE=3\"");
#elif __KIMIGAYO_FORTIFY_LEVEL == 2
__asm__(".ident \"kimigayo-fortify _FORTIFY_SOURCE=2\"");
#else
__asm__(".ident \"kimigayo-fortify _FORTIFY_SOURCE=1\"");
#endif

#endif /* __KIMIGAYO_FORTIFY_LEVEL > 0 */

#endif /* __KIMIGAYO_FORTIFY_COMMON_H */
