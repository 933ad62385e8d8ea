namespace Liftoff.Testing;

/// <summary>Paths in the checkout the tests run from.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PythonSdk => Path.Combine(Root, "sdk", "python");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Liftoff.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Liftoff.slnx above {AppContext.BaseDirectory}");
    }
}
