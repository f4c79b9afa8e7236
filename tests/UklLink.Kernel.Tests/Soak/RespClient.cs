using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace UklLink.Kernel.Tests.Soak;

/// <summary>A Redis error reply ("-ERR ...").</summary>
internal sealed class RedisErrorReply(string message) : Exception(message);

/// <summary>
/// A minimal RESP2 client (one connection, one command at a time) for the soak's checker: every reply is parsed
/// fully and strictly, so a malformed or truncated reply is an exception, not a silent pass.
/// </summary>
internal sealed class RespClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly BufferedStream _stream;

    public RespClient(int port, TimeSpan timeout)
    {
        _tcp = new TcpClient { NoDelay = true, ReceiveTimeout = (int)timeout.TotalMilliseconds, SendTimeout = (int)timeout.TotalMilliseconds };
        _tcp.Connect(System.Net.IPAddress.Loopback, port);
        _stream = new BufferedStream(_tcp.GetStream(), 64 * 1024);
    }

    /// <summary>Sends a command; returns a string (simple or bulk), a long (integer), null (nil) or object?[] (array).</summary>
    public object? Call(params string[] args)
    {
        var b = new StringBuilder();
        b.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
            b.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        _stream.Write(Encoding.UTF8.GetBytes(b.ToString()));
        _stream.Flush();
        return Read();
    }

    private object? Read()
    {
        int kind = _stream.ReadByte();
        string line = Line();
        switch (kind)
        {
            case '+':
                return line;
            case '-':
                throw new RedisErrorReply(line);
            case ':':
                return long.Parse(line, CultureInfo.InvariantCulture);
            case '$':
            {
                int length = int.Parse(line, CultureInfo.InvariantCulture);
                if (length < 0)
                    return null;
                var data = new byte[length + 2];
                _stream.ReadExactly(data);
                if (data[length] != '\r' || data[length + 1] != '\n')
                    throw new InvalidDataException("bulk reply not terminated by CRLF");
                return Encoding.UTF8.GetString(data, 0, length);
            }
            case '*':
            {
                int count = int.Parse(line, CultureInfo.InvariantCulture);
                if (count < 0)
                    return null;
                var items = new object?[count];
                for (int i = 0; i < count; i++)
                    items[i] = Read();
                return items;
            }
            case -1:
                throw new EndOfStreamException("the server closed the connection");
            default:
                throw new InvalidDataException($"unknown reply type 0x{kind:x2}");
        }
    }

    private string Line()
    {
        var b = new StringBuilder();
        for (int c; (c = _stream.ReadByte()) != '\r';)
        {
            if (c < 0)
                throw new EndOfStreamException("the server closed the connection mid-reply");
            b.Append((char)c);
        }
        if (_stream.ReadByte() != '\n')
            throw new InvalidDataException("reply line not terminated by CRLF");
        return b.ToString();
    }

    public void Dispose()
    {
        _stream.Dispose();
        _tcp.Dispose();
    }
}
