using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrthancWeb.Hosting;

namespace OrthancWeb.Security;

public static class SecurityRegistration
{
    private const string SmartScheme = "CookieOrBasic";

    /// <summary>
    /// Accounts and roles (ASP.NET Identity on SQLite), the login cookie for browsers, HTTP Basic for scripts, the
    /// authorization policies, and the keys that sign cookies.
    /// </summary>
    public static IServiceCollection AddSecurity(this IServiceCollection services, IConfiguration configuration, DataPaths paths)
    {
        var server = configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        var security = configuration.GetSection(SecurityOptions.Section).Get<SecurityOptions>() ?? new SecurityOptions();
        services.TryAddSingleton(paths);
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();

        // Keys under the data folder: cookies survive a restart, and two servers on one machine never share keys.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(paths.Keys)).SetApplicationName("OrthancWeb-" + paths.Root);

        services.AddDbContext<SecurityDbContext>(o => o.UseSqlite($"Data Source={paths.SecurityDatabaseFile}"));
        services.AddIdentity<IdentityUser, IdentityRole>(o =>
            {
                // Failed logins never lock an account (LoginService passes lockoutOnFailure: false; the client's address
                // waits instead, see LoginThrottle); an account an administrator locks stays locked for this time.
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
                o.Password.RequiredLength = 8;
                o.User.RequireUniqueEmail = false;
            })
            .AddEntityFrameworkStores<SecurityDbContext>()
            .AddUserManager<ServerUserManager>()
            .AddDefaultTokenProviders();
        // A signed-in browser is checked against its account this often: deleted, or with a new password or new roles,
        // it is signed out (Identity's default is 30 minutes).
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.FromSeconds(security.SessionValidationInterval));
        services.ConfigureApplicationCookie(o =>
        {
            // Scripts get 401/403 with a Basic challenge; browsers navigating to a page get the login page.
            static bool IsBrowser(HttpRequest r) => r.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
            o.Events.OnRedirectToLogin = ctx =>
            {
                if (IsBrowser(ctx.Request)) ctx.Response.Redirect(ctx.RedirectUri);
                else { ctx.Response.StatusCode = 401; ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"OrthancWeb\", charset=\"UTF-8\""; }
                return Task.CompletedTask;
            };
            o.Events.OnRedirectToAccessDenied = ctx =>
            {
                if (IsBrowser(ctx.Request)) ctx.Response.Redirect(ctx.RedirectUri);
                else ctx.Response.StatusCode = 403;
                return Task.CompletedTask;
            };
            // Cookies do not separate ports: a per-instance name keeps side-by-side servers from logging each other out.
            o.Cookie.Name = $".OrthancWeb.{server.HttpsPort}";
            o.LoginPath = "/account/login";
            o.AccessDeniedPath = "/account/denied";
            o.SlidingExpiration = true;
            // Only ever sent over HTTPS, out of scripts' reach, and not with requests other sites start (Lax rather
            // than Strict: a link to a study from the hospital's RIS opens it without a second login; writes from
            // other sites are refused by UseSameOriginWrites).
            o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
        });
        services.AddAntiforgery(o => o.Cookie.SecurePolicy = CookieSecurePolicy.Always);
        // A request with "Authorization: Basic" is a script; anything else is the browser's cookie.
        services.AddAuthentication(o =>
            {
                o.DefaultAuthenticateScheme = SmartScheme;
                o.DefaultChallengeScheme = SmartScheme;
                o.DefaultForbidScheme = SmartScheme;
            })
            // Over plain HTTP (scripts on this machine) only Basic counts: the login cookie is for HTTPS.
            .AddPolicyScheme(SmartScheme, "Cookie or HTTP Basic", p => p.ForwardDefaultSelector = ctx =>
                BrowserSecurity.IsBasic(ctx.Request) || !ctx.Request.IsHttps
                    ? BasicAuthenticationHandler.SchemeName : IdentityConstants.ApplicationScheme)
            .AddScheme<AuthenticationSchemeOptions, BasicAuthenticationHandler>(BasicAuthenticationHandler.SchemeName, null);
        services.AddSingleton<BasicCredentialCache>();
        services.AddSingleton<LoginThrottle>();
        services.AddScoped<LoginService>();
        services.TryAddSingleton(TimeProvider.System);
        // Open Blazor circuits are checked again too (registered before Blazor's own provider, which is added with TryAdd).
        services.AddScoped<AuthenticationStateProvider, RevalidatingCircuitAuthentication>();
        services.AddOptions<SecurityHeaderOptions>();
        services.AddAuthorization(o =>
        {
            o.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            foreach (var policy in Policies.All) o.AddPolicy(policy, p => p.RequireRole(Policies.RolesOf(policy)));
        });
        services.AddScoped<AdministratorSeeder>();
        return services;
    }
}
