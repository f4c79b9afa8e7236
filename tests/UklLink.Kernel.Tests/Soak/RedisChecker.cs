namespace UklLink.Kernel.Tests.Soak;

/// <summary>
/// Writes and reads back known keys and checks every reply against a model of what the server must hold: SET, GET,
/// DEL, INCRBY, APPEND, MSET/MGET and STRLEN on a keyspace of its own ("soak:WORKER:*"), then a final sweep that
/// reads every key of the model once more. Runs beside redis-benchmark's load.
/// </summary>
internal sealed class RedisChecker(int port, int worker)
{
    private readonly Dictionary<string, string> _model = new(StringComparer.Ordinal);
    private readonly Random _random = new(1000 + worker);
    private readonly List<string> _mismatches = [];

    public long Operations { get; private set; }
    public int MismatchCount { get; private set; }
    public IReadOnlyList<string> FirstMismatches => _mismatches;

    private void Expect(bool ok, string what)
    {
        if (ok)
            return;
        MismatchCount++;
        if (_mismatches.Count < 10)
            _mismatches.Add(what);
    }

    private string Value(int max = 2048)
    {
        int length = _random.Next(1, max);
        var chars = new char[length];
        for (int i = 0; i < length; i++)
            chars[i] = (char)('!' + _random.Next(94));
        return new string(chars);
    }

    public void Run(TimeSpan duration)
    {
        using var c = new RespClient(port, TimeSpan.FromSeconds(30));
        var end = DateTime.UtcNow + duration;
        string counter = $"soak:{worker}:counter";
        _model[counter] = "0";
        Expect(c.Call("SET", counter, "0") as string == "OK", "SET counter");
        while (DateTime.UtcNow < end)
        {
            string key = $"soak:{worker}:{_random.Next(500)}";
            _model.TryGetValue(key, out var expected);
            switch (_random.Next(8))
            {
                case 0 or 1:
                {
                    string v = Value();
                    Expect(c.Call("SET", key, v) as string == "OK", $"SET {key}");
                    _model[key] = v;
                    break;
                }
                case 2 or 3:
                    Expect(c.Call("GET", key) as string == expected, $"GET {key}: not the value written");
                    break;
                case 4:
                    Expect(c.Call("DEL", key) is long d && d == (expected is null ? 0 : 1), $"DEL {key}");
                    _model.Remove(key);
                    break;
                case 5:
                {
                    long by = _random.Next(-1000, 1000);
                    long next = long.Parse(_model[counter]) + by;
                    Expect(c.Call("INCRBY", counter, by.ToString()) is long n && n == next, $"INCRBY {counter} {by}");
                    _model[counter] = next.ToString();
                    break;
                }
                case 6:
                {
                    string tail = Value(64);
                    string joined = (expected ?? "") + tail;
                    Expect(c.Call("APPEND", key, tail) is long len && len == joined.Length, $"APPEND {key}");
                    _model[key] = joined;
                    break;
                }
                default:
                {
                    string k2 = $"soak:{worker}:{_random.Next(500)}";
                    if (k2 == key)
                        continue; // nothing sent, nothing counted
                    string v1 = Value(), v2 = Value();
                    Expect(c.Call("MSET", key, v1, k2, v2) as string == "OK", $"MSET {key} {k2}");
                    _model[key] = v1;
                    _model[k2] = v2;
                    Expect(c.Call("MGET", key, k2) is object?[] got && got.Length == 2 && got[0] as string == v1 && got[1] as string == v2, $"MGET {key} {k2}");
                    Expect(c.Call("STRLEN", k2) is long sl && sl == v2.Length, $"STRLEN {k2}");
                    Operations += 2;
                    break;
                }
            }
            Operations++;
        }
        // Everything the model says is there must still be there, byte for byte.
        foreach (var (key, value) in _model)
        {
            Expect(c.Call("GET", key) as string == value, $"final GET {key}");
            Operations++;
        }
    }
}
