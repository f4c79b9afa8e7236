namespace UklLink.Guest;

/// <summary>
/// A run or image request that cannot work (a missing kernel or file, a port in use, a missing tool): one line naming
/// the thing and what to do. The CLI maps it to exit status 2, before anything was started.
/// </summary>
public sealed class GuestException(string message) : Exception(message);
