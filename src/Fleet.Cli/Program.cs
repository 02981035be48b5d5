using Fleet.Cli;

return await FleetCommand.Build().Parse(args).InvokeAsync();
