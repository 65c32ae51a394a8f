/// dlmalloc instead of musl's mallocng: mallocng hands pages back to the kernel as soon as a
/// group empties, so every short-lived action and holder process paid a stream of
/// mmap/munmap pairs (over a hundred per service start), a measurable share of boot time.
/// Every process of this binary is single-threaded, so its lock is never held across fork.
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() {
    std::process::exit(kimigayo_init::main(std::env::args_os().collect()));
}
