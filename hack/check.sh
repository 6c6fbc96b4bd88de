#!/usr/bin/env bash
# hack/check.sh - `make check`: formatting and purity of the core.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
fail=0

# 1. clang-format clean (.clang-format at the top).
files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
if [ -n "$files" ]; then
    if ! bad=$(clang-format --dry-run --Werror $files 2>&1); then
        echo "check: clang-format would change these files (run 'make format'):"
        echo "$bad" | grep -E '^[^ ].*: (error|warning):' | cut -d: -f1 | sort -u | sed 's/^/  /'
        fail=1
    fi
fi

# 2. The pure core uses no I/O, clock, environment or randomness (DESIGN.md §3).
lib="$BUILD/libreconcile.a"
if [ ! -f "$lib" ]; then
    echo "check: $lib is missing (build first)"
    fail=1
else
    forbidden='^(socket|connect|bind|listen|accept|accept4|send|sendto|recv|recvfrom|poll|select|epoll_.*|curl_.*|lws_.*|uv_.*|open|open64|openat|fopen|fopen64|fdopen|read|write|pread|pwrite|close|fclose|fread|fwrite|fgets|fputs|printf|fprintf|puts|putchar|perror|time|clock_gettime|gettimeofday|clock|getenv|secure_getenv|setenv|rand|random|srand|srandom|rand_r|drand48|getrandom|arc4random|pthread_.*|fork|exec.*|system|sleep|usleep|nanosleep|stat|fstat|lstat|opendir|readdir|mmap|syslog|localtime|localtime_r|gmtime|mktime|strftime|tzset)$'
    bad=$(nm -u "$lib" 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' | grep -E "$forbidden" | sort -u)
    if [ -n "$bad" ]; then
        echo "check: libreconcile.a must stay pure, but uses:"
        echo "$bad" | sed 's/^/  /'
        fail=1
    fi
fi

if [ $fail -eq 0 ]; then
    echo "check: ok (clang-format clean, libreconcile.a pure, -Werror build)"
fi
exit $fail
