using Fleet.Silo.Api;
using Fleet.Silo.Hosting;
using Microsoft.Extensions.Options;

try
{
    // Configuration files are read once at start unless asked otherwise: watching them for changes watches the content
    // root and every folder under it — the data folder too, where the embedded store writes all the time (in a profile
    // of a busy silo, a few per cent of its CPU went to the file events of its own writes).
    // A setting of the user's own wins: on the command line, or DOTNET_/ASPNETCORE_hostBuilder__reloadConfigOnChange.
    if (!args.Any(a => a.Contains("reloadConfigOnChange", StringComparison.OrdinalIgnoreCase))
        && !Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.EndsWith("hostBuilder__reloadConfigOnChange", StringComparison.OrdinalIgnoreCase)))
        args = [.. args, "--hostBuilder:reloadConfigOnChange=false"];
    var builder = WebApplication.CreateBuilder(args);
    builder.AddFleetSilo();

    var app = builder.Build();
    app.MapFleetEndpoints();
    app.Run();
    return 0;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine("fleet-silo: the configuration is not valid:");
    foreach (var failure in e.Failures) Console.Error.WriteLine($"  {failure}");
    return 2;
}
catch (IOException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Console.Error.WriteLine($"fleet-silo: a port is already in use: {e.Message}");
    return 2;
}
