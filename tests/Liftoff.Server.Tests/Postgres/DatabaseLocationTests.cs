using Liftoff.Server.Hosting;
using Npgsql;
using Xunit;

namespace Liftoff.Server.Tests.Postgres;

public sealed class DatabaseLocationTests
{
    [Fact]
    public void Parse_Nothing_IsSqliteInTheDataDirectory()
    {
        var location = Assert.IsType<SqliteDatabaseLocation>(DatabaseLocation.Parse(null, "/data"));

        Assert.Equal("/data/liftoff.db", location.Path);
    }

    [Theory]
    [InlineData("sqlite:///var/lib/liftoff/store.db", "/var/lib/liftoff/store.db")]
    [InlineData("sqlite:///tmp", "/tmp/liftoff.db")]
    public void Parse_SqliteUrl_IsThatFileOrTheStoreInThatDirectory(string value, string path) =>
        Assert.Equal(path, Assert.IsType<SqliteDatabaseLocation>(DatabaseLocation.Parse(value, "/data")).Path);

    [Fact]
    public void Parse_PostgresUrl_BecomesAConnectionStringAndPrintsWithoutThePassword()
    {
        var location = Assert.IsType<PostgresDatabaseLocation>(DatabaseLocation.Parse("postgres://lift%40off:p%3Ass@db.example:6543/prod?sslmode=require&search_path=tenant", "/data"));
        var settings = new NpgsqlConnectionStringBuilder(location.ConnectionString);

        Assert.Equal(("db.example", 6543, "prod", "lift@off", "p:ss", SslMode.Require, "tenant"),
            (settings.Host, settings.Port, settings.Database, settings.Username, settings.Password, settings.SslMode, settings.SearchPath));
        Assert.Equal("postgres://lift%40off@db.example:6543/prod?search_path=tenant", location.ToString());
        Assert.DoesNotContain("p:ss", location.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PostgresUrlParameters_AreNpgsqlSettingsInSnakeCase()
    {
        var location = (PostgresDatabaseLocation)DatabaseLocation.Parse("postgresql://u@h/d?ssl_mode=disable&maximum_pool_size=7&connect_timeout=3&application_name=replica-2", "/data");
        var settings = new NpgsqlConnectionStringBuilder(location.ConnectionString);

        Assert.Equal((SslMode.Disable, 7, 3, "replica-2", 5432), (settings.SslMode, settings.MaxPoolSize, settings.Timeout, settings.ApplicationName, settings.Port));
    }

    [Fact]
    public void Parse_ConnectionString_IsTakenAsIs()
    {
        var location = Assert.IsType<PostgresDatabaseLocation>(DatabaseLocation.Parse("Host=127.0.0.1;Port=55432;Username=u;Password=secret;Database=d", "/data"));

        Assert.Equal("secret", new NpgsqlConnectionStringBuilder(location.ConnectionString).Password);
        Assert.Equal("postgres://u@127.0.0.1:55432/d", location.ToString());
    }

    [Theory]
    [InlineData("mysql://x")]
    [InlineData("postgres://host/db?no_such_setting=1")]
    [InlineData("Database=d")]
    public void Parse_Nonsense_ThrowsFormatException(string value) =>
        Assert.Throws<FormatException>(() => DatabaseLocation.Parse(value, "/data"));
}
