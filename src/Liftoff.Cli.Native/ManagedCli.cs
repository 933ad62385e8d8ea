using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Liftoff.Cli;

/// <summary>
/// The managed liftoff (Liftoff.Cli.dll, published beside this executable), for the commands Native AOT cannot run.
/// It replaces this process (execv), so it has this process's id, arguments, standard streams, signals and exit code:
/// a supervisor that stops <c>liftoff agent</c> stops the agent itself, not a parent that would have to forward it.
/// </summary>
internal static partial class ManagedCli
{
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "Liftoff.Cli.dll");

    public static int Exec(string[] args)
    {
        if (!File.Exists(Dll))
        {
            Console.Error.WriteLine($"liftoff: this command runs in the managed liftoff, and {Dll} is missing; rebuild with ./liftoff or reinstall");
            return ExitCodes.Failed;
        }

        var dotnet = Dotnet();
        if (dotnet is null)
        {
            Console.Error.WriteLine("liftoff: this command runs on the .NET runtime, and no dotnet was found (DOTNET_ROOT, PATH)");
            return ExitCodes.Failed;
        }

        string[] argv = [dotnet, Dll, .. args];
        var pointers = new nint[argv.Length + 1];
        try
        {
            for (var i = 0; i < argv.Length; i++)
            {
                pointers[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            }

            Execv(pointers[0], pointers);
            Console.Error.WriteLine($"liftoff: could not start {dotnet}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
            return ExitCodes.Failed;
        }
        finally
        {
            foreach (var pointer in pointers)
            {
                Marshal.FreeCoTaskMem(pointer);
            }
        }
    }

    /// <summary>The dotnet host the way the framework-dependent apphost finds it: DOTNET_ROOT, then PATH.</summary>
    private static string? Dotnet()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root)
        {
            roots.Add(root);
        }

        roots.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        return roots.Select(r => Path.Combine(r, "dotnet")).FirstOrDefault(File.Exists);
    }

    [LibraryImport("libc", EntryPoint = "execv", SetLastError = true)]
    private static partial int Execv(nint path, [In] nint[] argv);
}
