using SharpFuzz;
using UklLink.Fuzz;

// dotnet UklLink.Fuzz.dll TARGET FIXTURES                 under afl-fuzz (fuzz/run): one input a run, on stdin
// dotnet UklLink.Fuzz.dll TARGET FIXTURES --replay FILE... outside afl: runs each file once, prints what the contract
//                                                          check says, exits 1 if any file breaks it
if (args.Length < 2 || !TargetTable.ByName.TryGetValue(args[0], out var factory))
{
    Console.Error.WriteLine($"usage: UklLink.Fuzz TARGET FIXTURES [--replay FILE...]; targets: {string.Join(", ", TargetTable.ByName.Keys)}");
    return 2;
}
using var target = factory(new Fixtures(args[1]));
if (args.Length > 2 && args[2] == "--replay")
    return Replay.Files(target, args[3..]);

// Out of process: SharpFuzz keeps a small server process talking to afl-fuzz and runs the target in a child it
// restarts, so a hang (afl's -t kills the child) or a stack overflow is reported as such instead of ending the run.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target.Run(buffer.ToArray());
});
return 0;
