namespace Liftoff.Testing;

/// <summary>
/// Sets process environment variables (null removes one) and puts back what they were when disposed. The environment
/// is the whole process's: a test using this must not run beside another that reads the same variables.
/// </summary>
public sealed class EnvironmentScope : IDisposable
{
    private readonly (string Name, string? Value)[] _saved;

    public EnvironmentScope(params (string Name, string? Value)[] values)
    {
        _saved = [.. values.Select(v => (v.Name, Environment.GetEnvironmentVariable(v.Name)))];
        foreach (var (name, value) in values)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }
    }
}
