using Xunit;

namespace Liftoff.Server.Tests.Storage;

/// <summary>Secrets: ciphertexts by entity and name.</summary>
public abstract partial class StoreContract
{
    [Fact]
    public async Task SetSecret_Twice_ReplacesTheCiphertextAndKeepsTheCreationTime()
    {
        var e = await NewEntityAsync("e");

        var created = await Identities.SetSecretAsync(e.Id, "TOKEN", "cipher-1", T0, default);
        var replaced = await Identities.SetSecretAsync(e.Id, "TOKEN", "cipher-2", T0.AddMinutes(5), default);

        Assert.Equal(("TOKEN", "cipher-1", T0, T0), (created.Name, created.Ciphertext, created.CreatedAt, created.UpdatedAt));
        Assert.Equal(("TOKEN", "cipher-2", T0, T0.AddMinutes(5)), (replaced.Name, replaced.Ciphertext, replaced.CreatedAt, replaced.UpdatedAt));
        Assert.Equal([replaced], await Identities.ListSecretsAsync(e.Id, default));
    }

    [Fact]
    public async Task Secrets_AreScopedToTheirEntity_ListedByNameAndDeletedOnce()
    {
        var a = await NewEntityAsync("a");
        var b = await NewEntityAsync("b");
        await Identities.SetSecretAsync(a.Id, "Z_LAST", "z", T0, default);
        await Identities.SetSecretAsync(a.Id, "A_FIRST", "a", T0, default);
        await Identities.SetSecretAsync(b.Id, "A_FIRST", "b's", T0, default);

        Assert.False(await Identities.DeleteSecretAsync(b.Id, "Z_LAST", default));
        Assert.Equal(["A_FIRST", "Z_LAST"], (await Identities.ListSecretsAsync(a.Id, default)).Select(s => s.Name));
        Assert.True(await Identities.DeleteSecretAsync(a.Id, "A_FIRST", default));
        Assert.False(await Identities.DeleteSecretAsync(a.Id, "A_FIRST", default));
        Assert.Equal(["Z_LAST"], (await Identities.ListSecretsAsync(a.Id, default)).Select(s => s.Name));
        Assert.Equal("b's", Assert.Single(await Identities.ListSecretsAsync(b.Id, default)).Ciphertext);
    }
}
