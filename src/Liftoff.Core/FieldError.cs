namespace Liftoff.Core;

/// <summary>One thing wrong with a request, named by its JSON path (e.g. <c>files[3].path</c>), for a 400 a person can act on.</summary>
public sealed record FieldError(string Field, string Message);
