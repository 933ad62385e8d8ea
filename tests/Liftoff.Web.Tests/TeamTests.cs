using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace Liftoff.Web.Tests;

/// <summary>
/// A team in the web app: the entity switcher, pages acting on the team (the address keeps it), launching onto the
/// team's queue by role, the team page where its admins change roles, and the audit page.
/// </summary>
[Collection(WebCollection.Name)]
public sealed class TeamTests(BrowserFixture server)
{
    private const string Project = "shared-work";

    private const string Script = """
        import liftoff

        liftoff.init()
        liftoff.log({"loss": 0.5})
        print(f"team run lr={liftoff.config['lr']}", flush=True)
        liftoff.finish()
        """;

    private const string InputTypes = """{"type": "object", "properties": {"lr": {"type": "number", "default": 0.1}}, "required": ["lr"]}""";

    [Fact]
    public async Task Member_LaunchesOntoTheTeamQueue_FromTheForm_AndTheItemRuns()
    {
        var team = await server.NewTeamAsync();
        await using var admin = new Tools(server, team.AdminKey, team.Name);
        await admin.CliAsync("queue", "create", "shared", "--resource", "local-process");
        admin.StartAgent("shared");
        await using var member = new Tools(server, team.MemberKey, team.Name);
        await member.CreateJobAsync(Project, "train", Script, InputTypes);
        await using var site = await server.SignInAsync(team.MemberKey);
        var page = site.Page;

        // The member's own projects are empty; the switcher lists the team with the member's role there.
        await Expect(page.Locator("#entity-switch option", new() { HasText = $"{team.Name} (member)" })).ToHaveCountAsync(1);
        await page.Locator("#entity-switch").SelectOptionAsync(team.Name);
        await Expect(page).ToHaveURLAsync(new Regex($@"#/\?entity={team.Name}$"));
        await page.GetByRole(AriaRole.Link, new() { Name = Project }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Jobs" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "train", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"entity={team.Name}"));
        await page.GetByRole(AriaRole.Link, new() { Name = "Launch" }).ClickAsync();
        await Expect(page.GetByLabel("Queue", new() { Exact = true })).ToHaveValueAsync("shared");
        await page.GetByLabel("lr").FillAsync("0.25");
        await page.GetByRole(AriaRole.Button, new() { Name = "Launch", Exact = true }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($@"#/queues/shared\?item=item_\w+&entity={team.Name}$"));
        var item = Assert.Single((await member.Client.ListItemsAsync("shared")).Items);
        Assert.Equal(team.Name, item.Entity);
        Assert.Equal(0.25, item.Config.GetProperty("lr").GetDouble());
        var row = page.Locator($"tr[data-item='{item.Id}']");
        await Expect(row).ToContainTextAsync("finished", new() { Timeout = 90_000 });
        await row.Locator("a[href^='#/runs/']").ClickAsync();
        await Expect(page.Locator("h1 .state")).ToHaveTextAsync("finished");
        await Expect(page.Locator("#console")).ToContainTextAsync("team run lr=0.25", new() { Timeout = 30_000 });
        await site.ScreenshotAsync("team-run");
        Assert.True(site.Errors.Count == 0, "script errors: " + string.Join("\n", site.Errors) + "\nagent:\n" + admin.AgentOutput());
    }

    [Fact]
    public async Task Viewer_SeesNoLaunch_AndTheApiRefusesTheLaunch()
    {
        var team = await server.NewTeamAsync();
        await using var admin = new Tools(server, team.AdminKey, team.Name);
        await admin.CliAsync("queue", "create", "shared", "--resource", "local-process");
        await admin.CreateJobAsync(Project, "train", Script, InputTypes);
        await using var site = await server.SignInAsync(team.ViewerKey);
        var page = site.Page;

        // A link to the team's page opens the team's view: the address carries the entity.
        await site.GoAsync($"#/projects/{Project}/jobs?entity={team.Name}");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "train", Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator("#entity-switch")).ToHaveValueAsync(team.Name);
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "Launch train" }).CountAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "train", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "train:v0" })).ToBeVisibleAsync();
        await Expect(page.Locator("#launch")).ToHaveCountAsync(0);
        await site.GoAsync($"#/projects/{Project}/jobs/train/launch?entity={team.Name}");
        await Expect(page.Locator("#launch-refused")).ToContainTextAsync("needs the member role");
        await Expect(page.Locator("#submit-launch")).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Audit" })).ToHaveCountAsync(0);

        var refused = await page.EvaluateAsync<string>($$"""
            async () => {
              const session = await (await fetch('/web/session')).json();
              const response = await fetch('/api/v1/queues/shared/items?entity={{team.Name}}', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', 'X-Liftoff-Csrf': session.csrf_token },
                body: JSON.stringify({ job: 'train', project: '{{Project}}', config: { lr: 0.1 } }),
              });
              return response.status + ' ' + (await response.json()).detail;
            }
            """);
        Assert.StartsWith("403 ", refused);
        Assert.Contains("needs the member role", refused);
        Assert.Empty((await admin.Client.ListItemsAsync("shared")).Items);
        Assert.Empty(site.Errors);
    }

    [Fact]
    public async Task Admin_ChangesAMembersRole_OnTheTeamPage_AndItHoldsAtOnce()
    {
        var team = await server.NewTeamAsync();
        using var memberHttp = server.Http(team.MemberKey);
        Assert.Equal(HttpStatusCode.Created, await InitRunAsync(memberHttp, team.Name));
        await using var site = await server.SignInAsync(team.AdminKey);
        var page = site.Page;

        await page.Locator("#entity-switch").SelectOptionAsync(team.Name);
        await page.GetByRole(AriaRole.Link, new() { Name = "Team" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Team {team.Name}" })).ToBeVisibleAsync();
        var role = page.GetByLabel($"Role of {team.Member}");
        await Expect(role).ToHaveValueAsync("member");
        await Expect(page.GetByLabel($"Role of {team.Viewer}")).ToHaveValueAsync("viewer");
        await site.ScreenshotAsync("team");

        await role.SelectOptionAsync("viewer");
        await Expect(page.Locator("#status")).ToContainTextAsync($"{team.Member} is now a viewer of {team.Name}");
        Assert.Equal(HttpStatusCode.Forbidden, await InitRunAsync(memberHttp, team.Name));

        await page.GetByLabel($"Role of {team.Member}").SelectOptionAsync("member");
        await Expect(page.Locator("#status")).ToContainTextAsync($"{team.Member} is now a member of {team.Name}");
        Assert.Equal(HttpStatusCode.Created, await InitRunAsync(memberHttp, team.Name));

        // The team's last admin cannot be demoted: the page says why and shows the role unchanged.
        await page.GetByLabel($"Role of {team.Admin}").SelectOptionAsync("member");
        await Expect(page.Locator("#member-error")).ToBeVisibleAsync();
        await Expect(page.GetByLabel($"Role of {team.Admin}")).ToHaveValueAsync("admin");
        Assert.Equal("admin", (await server.Client().GetTeamAsync(team.Name)).Members.Single(m => m.User == team.Admin).Role);

        // A member sees the same list read-only.
        await using var memberSite = await server.SignInAsync(team.MemberKey);
        await memberSite.GoAsync($"#/teams/{team.Name}?entity={team.Name}");
        await Expect(memberSite.Page.Locator($"tr[data-member='{team.Viewer}']")).ToContainTextAsync("viewer");
        await Expect(memberSite.Page.Locator("#members-readonly")).ToBeVisibleAsync();
        await Expect(memberSite.Page.Locator("main select")).ToHaveCountAsync(0);
        await Expect(memberSite.Page.Locator("#service-accounts")).ToHaveCountAsync(0);
        Assert.Empty(site.Errors);
        Assert.Empty(memberSite.Errors);
    }

    [Fact]
    public async Task AuditPage_ShowsTheTeamsEntries_FilteredAndAsText()
    {
        var team = await server.NewTeamAsync();
        using var adminClient = server.Client(team.AdminKey);
        await adminClient.SetTeamMemberAsync(team.Name, team.Viewer, "member");
        // A refused removal is audited with the object as the caller named it: text a user controls.
        const string markup = "<img src=x onerror=\"window.__xss = 1\">";
        using var adminHttp = server.Http(team.AdminKey);
        var removal = await adminHttp.DeleteAsync($"api/v1/teams/{team.Name}/members/{Uri.EscapeDataString(markup)}");
        Assert.Equal(HttpStatusCode.NotFound, removal.StatusCode);
        await using var site = await server.SignInAsync(team.AdminKey);
        var page = site.Page;

        await page.Locator("#entity-switch").SelectOptionAsync(team.Name);
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit" }).ClickAsync();
        var entries = page.Locator("#audit-entries");
        // The viewer was added (previous: null), then made a member: the later entry is the one with the role before.
        var roleChange = entries.Locator("tr", new() { HasText = "member.set" }).Filter(new() { HasText = team.Viewer }).Filter(new() { HasText = "\"previous\":\"viewer\"" });
        await Expect(roleChange).ToContainTextAsync(team.Admin);
        await Expect(roleChange).ToContainTextAsync("\"role\":\"member\"");
        await Expect(entries.Locator("tr", new() { HasText = "member.remove" })).ToContainTextAsync(markup);
        await site.ScreenshotAsync("audit");

        await page.GetByLabel("Action").FillAsync("member.remove");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex(@"#/audit\?action=member\.remove"));
        await Expect(entries.Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(entries).ToContainTextAsync(markup);
        await Expect(entries).ToContainTextAsync("denied 404");
        Assert.Equal(0, await page.Locator("main img").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));

        await page.GetByLabel("Since").FillAsync("2001-01-01T00:00");
        await page.GetByLabel("Until").FillAsync("2001-01-02T00:00");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(entries).ToContainTextAsync("No entries match these filters.");

        // The team's members see no Audit page: the API lets only its admins read the log.
        await using var memberSite = await server.SignInAsync(team.MemberKey);
        await memberSite.Page.Locator("#entity-switch").SelectOptionAsync(team.Name);
        await Expect(memberSite.Page.GetByRole(AriaRole.Link, new() { Name = "Team" })).ToBeVisibleAsync();
        await Expect(memberSite.Page.GetByRole(AriaRole.Link, new() { Name = "Audit" })).ToHaveCountAsync(0);
        Assert.Empty(site.Errors);
    }

    [Fact]
    public async Task Admin_MakesAnAgentOnlyServiceAccountKey_OnTheTeamPage_ItDoesAgentWorkOnly_UntilRevoked()
    {
        var team = await server.NewTeamAsync();
        await using var admin = new Tools(server, team.AdminKey, team.Name);
        await admin.CliAsync("queue", "create", "shared", "--resource", "local-process");
        await using var site = await server.SignInAsync(team.AdminKey);
        var page = site.Page;
        await site.GoAsync($"#/teams/{team.Name}?entity={team.Name}");

        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("ci-agents");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        var account = page.Locator("article[data-account='ci-agents']");
        await Expect(account).ToContainTextAsync("member");
        await Expect(page.GetByLabel("Account", new() { Exact = true })).ToHaveValueAsync("ci-agents");
        await page.GetByLabel("Key name").FillAsync("host-1");
        await page.GetByLabel("Agent-only", new() { Exact = true }).CheckAsync();
        await page.GetByLabel("Queues (agent-only)").FillAsync("shared");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var shown = page.Locator("#new-key");
        await Expect(shown).ToHaveValueAsync(new Regex("^local-"));
        var key = await shown.InputValueAsync();
        Assert.True(await shown.EvaluateAsync<bool>("field => field.readOnly"));
        await Expect(account.Locator("tr", new() { HasText = "host-1" })).ToContainTextAsync("agent-only: shared");
        // Shown once: gone from the page after Done, and never in the address.
        await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        await Expect(shown).ToHaveCountAsync(0);
        Assert.DoesNotContain(key, await page.ContentAsync());
        Assert.DoesNotContain(key, page.Url);
        await site.ScreenshotAsync("team-service-accounts");

        using var agentHttp = server.Http(key);
        using var registered = await agentHttp.PostAsJsonAsync($"api/v1/agents?entity={team.Name}", new { name = "host-1", queues = new[] { "shared" } });
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var agentId = (await registered.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString();
        using var claim = await agentHttp.PostAsJsonAsync($"api/v1/agents/{agentId}/claim?entity={team.Name}", new { wait_seconds = 0 });
        Assert.Equal(HttpStatusCode.NoContent, claim.StatusCode);
        using var runs = await agentHttp.GetAsync($"api/v1/runs?entity={team.Name}");
        Assert.Equal(HttpStatusCode.Forbidden, runs.StatusCode);

        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke key host-1 of ci-agents" }).ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key host-1 of ci-agents revoked.");
        await Expect(account.GetByRole(AriaRole.Button, new() { Name = "Revoke key host-1 of ci-agents" })).ToHaveCountAsync(0);
        using var afterRevoke = await agentHttp.GetAsync("api/v1/viewer");
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);

        // Deleting asks first; the account then leaves the list.
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete service account ci-agents" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete ci-agents", Exact = true }).ClickAsync();
        await Expect(account).ToHaveCountAsync(0);
        using var adminClient = server.Client(team.AdminKey);
        Assert.Empty((await adminClient.ListServiceAccountsAsync(team.Name)).ServiceAccounts);
        Assert.Empty(site.Errors);
    }

    private static async Task<HttpStatusCode> InitRunAsync(HttpClient http, string entity)
    {
        using var response = await http.PostAsJsonAsync($"api/v1/runs?entity={entity}", new { project = Project });
        return response.StatusCode;
    }
}
