using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Liftoff.Cloud.Tests;

/// <summary>
/// Checks an AWS Signature Version 4 <c>Authorization</c> header the way AWS documents it (canonical request, string to
/// sign, the HMAC-SHA256 key chain), written here from that description with .NET's own HMAC: a second implementation,
/// independent of the AWSSDK.Core signer the agent uses.
/// </summary>
internal static partial class SigV4Verifier
{
    /// <summary>Null when the signature is right; otherwise why not.</summary>
    public static string? Verify(HttpRequest request, byte[] body, string accessKey, string secretKey, string? sessionToken, string region, string service, DateTimeOffset now)
    {
        var authorization = request.Headers.Authorization.ToString();
        var match = AuthorizationPattern().Match(authorization);
        if (!match.Success)
        {
            return $"Authorization is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…: '{authorization}'";
        }

        var (key, date, scopeRegion, scopeService) = (match.Groups["key"].Value, match.Groups["date"].Value, match.Groups["region"].Value, match.Groups["service"].Value);
        if (key != accessKey)
        {
            return $"signed with access key {key}, expected {accessKey}";
        }

        if (scopeRegion != region || scopeService != service)
        {
            return $"credential scope {scopeRegion}/{scopeService}, expected {region}/{service}";
        }

        var amzDate = request.Headers["X-Amz-Date"].ToString();
        if (!DateTimeOffset.TryParseExact(amzDate, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt)
            || !amzDate.StartsWith(date, StringComparison.Ordinal))
        {
            return $"X-Amz-Date '{amzDate}' is missing or disagrees with the scope date {date}";
        }

        if ((now - signedAt).Duration() > TimeSpan.FromMinutes(15))
        {
            return $"X-Amz-Date {amzDate} is more than 15 minutes from now";
        }

        if (sessionToken is not null && request.Headers["X-Amz-Security-Token"].ToString() != sessionToken)
        {
            return "the session token is missing from X-Amz-Security-Token";
        }

        var signedHeaders = match.Groups["headers"].Value.Split(';');
        if (!signedHeaders.Contains("host") || !signedHeaders.Contains("x-amz-date"))
        {
            return $"SignedHeaders '{match.Groups["headers"].Value}' leave out host or x-amz-date";
        }

        if (sessionToken is not null && !signedHeaders.Contains("x-amz-security-token"))
        {
            return "x-amz-security-token is not signed";
        }

        var canonical = new StringBuilder()
            .Append(request.Method).Append('\n')
            .Append(request.Path.HasValue ? request.Path.Value : "/").Append('\n')
            .Append(CanonicalQuery(request)).Append('\n');
        foreach (var header in signedHeaders)
        {
            var value = header == "host" ? request.Host.Value : request.Headers[header].ToString();
            canonical.Append(header).Append(':').Append(Spaces().Replace(value!.Trim(), " ")).Append('\n');
        }

        canonical.Append('\n').Append(match.Groups["headers"].Value).Append('\n').Append(Hex(SHA256.HashData(body)));
        var scope = $"{date}/{region}/{service}/aws4_request";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())))}";
        var signingKey = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + secretKey), date), region), service), "aws4_request");
        var expected = Hex(Hmac(signingKey, stringToSign));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(match.Groups["signature"].Value))
            ? null
            : $"the signature does not match; canonical request was:\n{canonical}";
    }

    private static string CanonicalQuery(HttpRequest request) => string.Join('&', request.Query
        .SelectMany(q => q.Value.Select(v => (Uri.EscapeDataString(q.Key), Uri.EscapeDataString(v ?? ""))))
        .OrderBy(p => p.Item1, StringComparer.Ordinal).ThenBy(p => p.Item2, StringComparer.Ordinal)
        .Select(p => $"{p.Item1}={p.Item2}"));

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    [System.Text.RegularExpressions.GeneratedRegex(@"^AWS4-HMAC-SHA256 Credential=(?<key>[^/]+)/(?<date>\d{8})/(?<region>[^/]+)/(?<service>[^/]+)/aws4_request, ?SignedHeaders=(?<headers>[a-z0-9;-]+), ?Signature=(?<signature>[0-9a-f]{64})$")]
    private static partial System.Text.RegularExpressions.Regex AuthorizationPattern();

    [System.Text.RegularExpressions.GeneratedRegex(" +")]
    private static partial System.Text.RegularExpressions.Regex Spaces();
}
