namespace Liftoff.Web.Tests;
