namespace UklLink.Rewrite;

/// <summary>
/// Names of the x86-64 system calls the link map and <c>-v</c> show beside a number: the ones the reference kernel's
/// bypass entries serve and the ones applications make most. Display only; nothing depends on a name.
/// </summary>
public static class SyscallNames
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [0] = "read", [1] = "write", [2] = "open", [3] = "close", [4] = "stat", [5] = "fstat", [7] = "poll", [8] = "lseek",
        [9] = "mmap", [10] = "mprotect", [11] = "munmap", [12] = "brk", [13] = "rt_sigaction", [14] = "rt_sigprocmask",
        [15] = "rt_sigreturn", [16] = "ioctl", [17] = "pread64", [18] = "pwrite64", [19] = "readv", [20] = "writev",
        [23] = "select", [24] = "sched_yield", [35] = "nanosleep", [39] = "getpid", [41] = "socket", [42] = "connect",
        [43] = "accept", [44] = "sendto", [45] = "recvfrom", [46] = "sendmsg", [47] = "recvmsg", [49] = "bind",
        [50] = "listen", [56] = "clone", [57] = "fork", [59] = "execve", [60] = "exit", [61] = "wait4", [62] = "kill",
        [72] = "fcntl", [110] = "getppid", [186] = "gettid", [202] = "futex", [228] = "clock_gettime", [231] = "exit_group",
        [232] = "epoll_wait", [233] = "epoll_ctl", [257] = "openat", [288] = "accept4", [291] = "epoll_create1",
        [293] = "pipe2",
    };

    /// <summary>The name of system call <paramref name="number"/>, or null when this table does not have it.</summary>
    public static string? Of(int number) => Names.GetValueOrDefault(number);
}
