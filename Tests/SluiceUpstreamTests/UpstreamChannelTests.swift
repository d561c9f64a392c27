import SluiceCore
import SluiceUpstream
import Testing

@Suite("UpstreamChannel")
struct UpstreamChannelTests {
    @Test func movesCredentialsOutOfTheURL() throws {
        let channel = try UpstreamChannel(baseURL: "https://bob:p%40ss@conda.example.com/private/")
        #expect(channel.baseURL == "https://conda.example.com/private")
        #expect(channel.username == "bob")
        #expect(channel.password == "p@ss")
        #expect(!channel.description.contains("p@ss"))
        #expect(
            channel.url(subdir: "noarch", filename: "repodata.json")
                == "https://conda.example.com/private/noarch/repodata.json")
    }

    @Test func explicitCredentialsWinAndTokensAreMaskedForDisplay() throws {
        let channel = try UpstreamChannel(
            baseURL: "https://conda.example.com/t/abc-123/main", username: "ci", password: "secret")
        #expect(channel.username == "ci")
        #expect(channel.displayURL == "https://conda.example.com/t/***/main")
        #expect(
            UpstreamChannel.redactingCredentials(in: "https://u:p@h.example/t/tok/x/y")
                == "https://h.example/t/***/x/y")
    }

    @Test func rejectsNonHTTPURLs() {
        for bad in ["ftp://example.com/x", "not a url", "/relative/path", "https://", "https://h.example/x?y=1"] {
            #expect(throws: SluiceError.self) { try UpstreamChannel(baseURL: bad) }
        }
    }
}
