namespace UklLink.Kernel.Tests.Soak;

/// <summary>
/// How long the soak tests run. The defaults are the short CI version in ./test; bench/soak sets the environment for
/// the long one (Redis 10 minutes, tcp_echo 5 minutes, 100 boots).
/// </summary>
internal static class SoakSettings
{
    public static TimeSpan RedisLoad { get; } = Seconds("UKL_SOAK_REDIS_SECONDS", 30);
    public static TimeSpan EchoLoad { get; } = Seconds("UKL_SOAK_ECHO_SECONDS", 15);
    public static int BootCycles { get; } = Number("UKL_SOAK_BOOTS", 5);

    private static TimeSpan Seconds(string name, int fallback) => TimeSpan.FromSeconds(Number(name, fallback));

    private static int Number(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int n) && n > 0 ? n : fallback;
}
