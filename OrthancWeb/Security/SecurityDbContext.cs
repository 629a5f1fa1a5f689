using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace OrthancWeb.Security;

/// <summary>ASP.NET Identity's users and roles. Kept apart from the DICOM index so each can move provider on its own.</summary>
public sealed class SecurityDbContext(DbContextOptions<SecurityDbContext> options) : IdentityDbContext<IdentityUser>(options);
