using System.Text;

namespace UklLink.Boot;

/// <summary>
/// Checks, while the kernel's bytes stream past, that the vmlinux's banner ("Linux version RELEASE (USER@HOST) (...)
/// VERSION") carries the version string of the real-mode setup ("RELEASE (USER@HOST) VERSION"). A setup from another
/// build usually still boots, so a mismatch is a warning, not an error.
/// </summary>
public sealed class KernelVersionMatch
{
    private readonly byte[][] _patterns;
    private readonly bool[] _found;
    private readonly byte[] _carry;
    private int _carryLength;

    public KernelVersionMatch(string setupVersion)
    {
        SetupVersion = setupVersion;
        // "6.1.192 (root@vm) #1 PREEMPT ..." → "Linux version 6.1.192 (root@vm) (" and ") #1 PREEMPT ...".
        int split = setupVersion.IndexOf(") ", StringComparison.Ordinal);
        var parts = split < 0
            ? new[] { "Linux version " + setupVersion }
            : new[] { "Linux version " + setupVersion[..(split + 1)] + " (", setupVersion[split..] };
        _patterns = parts.Select(p => Encoding.ASCII.GetBytes(p)).ToArray();
        _found = new bool[_patterns.Length];
        _carry = new byte[_patterns.Max(p => p.Length) - 1];
    }

    public string SetupVersion { get; }

    public bool Matched => _found.All(f => f);

    public void Scan(ReadOnlySpan<byte> chunk)
    {
        if (Matched)
            return;
        // Patterns may straddle chunks: search the carried tail of the previous chunk joined with this one's head.
        if (_carryLength > 0)
        {
            int head = Math.Min(chunk.Length, _carry.Length);
            var joined = new byte[_carryLength + head];
            _carry.AsSpan(0, _carryLength).CopyTo(joined);
            chunk[..head].CopyTo(joined.AsSpan(_carryLength));
            Search(joined);
        }
        Search(chunk);
        int keep = Math.Min(chunk.Length, _carry.Length);
        chunk[^keep..].CopyTo(_carry);
        _carryLength = keep;
    }

    private void Search(ReadOnlySpan<byte> data)
    {
        for (int i = 0; i < _patterns.Length; i++)
        {
            if (!_found[i] && data.IndexOf(_patterns[i]) >= 0)
                _found[i] = true;
        }
    }
}
