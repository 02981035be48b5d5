using Fleet.Core.Text;

namespace Fleet.Core.Tests.Text;

public class RedactTests
{
    [Theory]
    [InlineData("https://hooks.example.com/act?token=abc", "https://hooks.example.com/act?***")]
    [InlineData("https://user:pass@hooks.example.com/", "https://***@hooks.example.com/")]
    [InlineData("https://hooks.slack.com/services/T0/B0/SECRET", "https://hooks.slack.com/services/***")]
    [InlineData("http://10.0.0.5:8080/hook", "http://10.0.0.5:8080/hook")]
    [InlineData("not a url", "not a url")]
    public void Url_KeepsTheEndpoint_DropsWhatCarriesSecrets(string url, string shown) => Assert.Equal(shown, Redact.Url(url));
}
