namespace UklLink.Fuzz;

/// <summary>An input made ukl-link break its contract; SharpFuzz reports the escaping exception to afl as a crash.</summary>
public sealed class ContractViolation(string message) : Exception(message);
