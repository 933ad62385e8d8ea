using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Liftoff.Server.Apis;

/// <summary>
/// Refuses <c>null</c> as an element of a request's lists (<c>{"rows":[null]}</c>): no wire list holds nulls, and
/// System.Text.Json would hand one to a handler that, trusting the element type, fails on it with a 500. Added once to
/// the request JSON options, so every list of every request record is covered.
/// </summary>
internal static class NullElements
{
    public static void Refuse(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        var lists = type.Properties
            .Where(p => p.Get is not null && p.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(p.PropertyType) && !IsDictionary(p.PropertyType))
            .ToArray();
        if (lists.Length == 0)
        {
            return;
        }

        var previous = type.OnDeserialized;
        type.OnDeserialized = value =>
        {
            foreach (var list in lists)
            {
                var index = 0;
                foreach (var element in list.Get!(value) as IEnumerable ?? Array.Empty<object>())
                {
                    if (element is null)
                    {
                        throw new NullElementException($"{list.Name}[{index}]");
                    }

                    index++;
                }
            }

            previous?.Invoke(value);
        };
    }

    private static bool IsDictionary(Type type) =>
        typeof(IDictionary).IsAssignableFrom(type)
        || type.GetInterfaces().Append(type).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() is var d && (d == typeof(IReadOnlyDictionary<,>) || d == typeof(IDictionary<,>)));
}

/// <summary>A null list element; <see cref="Element"/> is its path within the object that holds the list.</summary>
internal sealed class NullElementException(string element) : JsonException($"{element} is null; a list holds values, never null")
{
    public string Element { get; } = element;
}
