namespace UklLink.Guest;

/// <summary>What the guest runs and with what: the application's command line, environment, files and network.</summary>
public sealed record GuestSpec
{
    /// <summary>The application's arguments (argv[1..]; argv[0] is /UKL).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Environment variables given to the application, after the defaults (<see cref="GuestInit.DefaultEnvironment"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>Host files copied into the guest (guest paths are absolute).</summary>
    public IReadOnlyList<(string Host, string Guest)> Files { get; init; } = [];

    /// <summary>Host directories copied into the guest, recursively.</summary>
    public IReadOnlyList<(string Host, string Guest)> Directories { get; init; } = [];

    public IReadOnlyList<PortForward> Ports { get; init; } = [];

    /// <summary>Guest TCP ports whose listening socket the init reports (readiness, --wait-port).</summary>
    public IReadOnlyList<int> WaitPorts { get; init; } = [];

    /// <summary>An e1000 NIC with QEMU's user networking (implied by ports).</summary>
    public bool Network { get; init; }

    /// <summary>The application's working directory.</summary>
    public string WorkingDirectory { get; init; } = "/";

    public string Hostname { get; init; } = "ukl";
}
