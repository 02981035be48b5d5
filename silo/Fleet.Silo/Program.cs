using Fleet.Silo.Api;
using Fleet.Silo.Hosting;
using Microsoft.Extensions.Options;

try
{
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
