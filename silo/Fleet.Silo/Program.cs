using Fleet.Silo.Api;
using Fleet.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddFleetSilo();

var app = builder.Build();
app.MapFleetEndpoints();
app.Run();

public partial class Program;
