namespace UklLink.Layout;

/// <summary>Shell-style wildcards as GNU ld matches section and file names: <c>*</c>, <c>?</c> and <c>[...]</c>.</summary>
public static class Glob
{
    public static bool IsWildcard(string pattern) => pattern.AsSpan().IndexOfAny("*?[") >= 0;

    public static bool Matches(string pattern, string text) => Match(pattern.AsSpan(), text.AsSpan());

    private static bool Match(ReadOnlySpan<char> p, ReadOnlySpan<char> t)
    {
        int pi = 0, ti = 0, starP = -1, starT = 0;
        while (ti < t.Length)
        {
            if (pi < p.Length && p[pi] == '*')
            {
                starP = pi++;
                starT = ti;
                continue;
            }
            if (pi < p.Length && MatchOne(p, ref pi, t[ti]))
            {
                ti++;
                continue;
            }
            if (starP < 0)
                return false;
            pi = starP + 1;
            ti = ++starT;
        }
        while (pi < p.Length && p[pi] == '*')
            pi++;
        return pi == p.Length;
    }

    /// <summary>Matches one pattern element at <paramref name="pi"/> against <paramref name="c"/>, advancing past it.</summary>
    private static bool MatchOne(ReadOnlySpan<char> p, ref int pi, char c)
    {
        if (p[pi] == '?')
        {
            pi++;
            return true;
        }
        if (p[pi] == '[')
        {
            int close = p[(pi + 1)..].IndexOf(']');
            if (close > 0)
            {
                var set = p.Slice(pi + 1, close);
                bool negate = set.Length > 0 && (set[0] == '!' || set[0] == '^');
                if (negate)
                    set = set[1..];
                bool found = false;
                for (int i = 0; i < set.Length; i++)
                {
                    if (i + 2 < set.Length && set[i + 1] == '-')
                    {
                        if (c >= set[i] && c <= set[i + 2])
                            found = true;
                        i += 2;
                    }
                    else if (set[i] == c)
                        found = true;
                }
                if (found == negate)
                    return false;
                pi += close + 2;
                return true;
            }
        }
        if (p[pi] == '\\' && pi + 1 < p.Length)
            pi++;
        if (p[pi] != c)
            return false;
        pi++;
        return true;
    }
}
