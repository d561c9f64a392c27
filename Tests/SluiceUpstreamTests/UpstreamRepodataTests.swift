import Foundation
import SluiceCore
import SluiceTesting
import SluiceUpstream
import Testing

@Suite("UpstreamClient repodata")
struct UpstreamRepodataTests {
    static let linuxRepodata = "linux-64/repodata.json"

    static func fixtureJSON(_ path: String) throws -> Data {
        try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent(path))
    }

    @Test func prefersZstdAndDecompressesIt() async throws {
        try await withFakeUpstream { upstream in
            let result = try await makeClient().fetchRepodata(
                channel: try channel(upstream), subdir: "linux-64", validators: nil)
            guard case .fetched(let body, let validators, let variant) = result else {
                Issue.record("expected fetched, got \(result)")
                return
            }
            #expect(variant == .zstd)
            #expect(body == (try Self.fixtureJSON(Self.linuxRepodata)))
            #expect(validators.etag != nil)
            #expect(validators.lastModified != nil)
            #expect(validators.variant == .zstd)
            #expect(upstream.requestCount("linux-64/repodata.json.zst") == 1)
            #expect(upstream.requestCount(Self.linuxRepodata) == 0)
        }
    }

    @Test func fallsBackToJSONWhenZstdIsMissingAndRemembersIt() async throws {
        try await withFakeUpstream(generateZstd: false) { upstream in
            let client = makeClient()
            let channel = try channel(upstream)
            let first = try await client.fetchRepodata(channel: channel, subdir: "linux-64", validators: nil)
            guard case .fetched(let body, let validators, let variant) = first else {
                Issue.record("expected fetched, got \(first)")
                return
            }
            #expect(variant == .json)
            #expect(validators.variant == .json)
            #expect(body == (try Self.fixtureJSON(Self.linuxRepodata)))
            #expect(upstream.requestCount("linux-64/repodata.json.zst") == 1)
            #expect(upstream.requestCount(Self.linuxRepodata) == 1)
            #expect(client.isZstdKnownMissing(channel: channel, subdir: "linux-64"))
            #expect(!client.isZstdKnownMissing(channel: channel, subdir: "osx-64"))

            // The second fetch goes straight to repodata.json.
            _ = try await client.fetchRepodata(channel: channel, subdir: "linux-64", validators: nil)
            #expect(upstream.requestCount("linux-64/repodata.json.zst") == 1)
            #expect(upstream.requestCount(Self.linuxRepodata) == 2)
        }
    }

    @Test func fallsBackToJSONWhenZstdIsNotZstd() async throws {
        try await withFakeUpstream { upstream in
            // An upstream that answers 200 with an HTML page for the .zst (conda#13558).
            upstream.setFile("linux-64/repodata.json.zst", contents: Data("<html>not here</html>".utf8))
            let result = try await makeClient().fetchRepodata(
                channel: try channel(upstream), subdir: "linux-64", validators: nil)
            guard case .fetched(let body, _, let variant) = result else {
                Issue.record("expected fetched, got \(result)")
                return
            }
            #expect(variant == .json)
            #expect(body == (try Self.fixtureJSON(Self.linuxRepodata)))
        }
    }

    @Test func revalidatesWithValidatorsAndSeesChanges() async throws {
        try await withFakeUpstream { upstream in
            let client = makeClient()
            let channel = try channel(upstream)
            guard
                case .fetched(_, let validators, _) = try await client.fetchRepodata(
                    channel: channel, subdir: "linux-64", validators: nil)
            else {
                Issue.record("first fetch must return data")
                return
            }
            // Unchanged: 304, and the request carried the ETag.
            let second = try await client.fetchRepodata(channel: channel, subdir: "linux-64", validators: validators)
            #expect(second == .notModified)
            let request = try #require(upstream.lastRequest("linux-64/repodata.json.zst"))
            #expect(request.headers["if-none-match"] == validators.etag)
            #expect(request.headers["if-modified-since"] == validators.lastModified)

            // The upstream publishes new repodata: the old ETag no longer matches, the new bytes come back.
            var changed = try Self.fixtureJSON(Self.linuxRepodata)
            changed.append(contentsOf: Array("\n".utf8))
            upstream.setFile(Self.linuxRepodata, contents: changed)
            let third = try await client.fetchRepodata(channel: channel, subdir: "linux-64", validators: validators)
            guard case .fetched(let body, let newValidators, _) = third else {
                Issue.record("expected fetched after a change, got \(third)")
                return
            }
            #expect(body == changed)
            #expect(newValidators.etag != validators.etag)
        }
    }

    @Test func changedETagWithoutDateMeansRefetch() async throws {
        try await withFakeUpstream { upstream in
            let client = makeClient()
            let channel = try channel(upstream)
            guard
                case .fetched(_, let validators, _) = try await client.fetchRepodata(
                    channel: channel, subdir: "osx-64", validators: nil)
            else {
                Issue.record("first fetch must return data")
                return
            }
            upstream.script("osx-64/repodata.json.zst", fault: .etag("\"rotated\""))
            let onlyETag = CacheValidators(etag: validators.etag, variant: validators.variant)
            let second = try await client.fetchRepodata(channel: channel, subdir: "osx-64", validators: onlyETag)
            guard case .fetched(_, let newValidators, _) = second else {
                Issue.record("a changed ETag must give a fresh body, got \(second)")
                return
            }
            #expect(newValidators.etag == "\"rotated\"")
        }
    }

    @Test func missingSubdirIsNotFound() async throws {
        try await withFakeUpstream { upstream in
            let result = try await makeClient().fetchRepodata(
                channel: try channel(upstream), subdir: "linux-aarch64", validators: nil)
            #expect(result == .notFound)
            #expect(upstream.requestCount("linux-aarch64/repodata.json") == 1)
        }
    }

    @Test func serverErrorIsUpstreamUnavailableNamingTheURLWithoutCredentials() async throws {
        try await withFakeUpstream { upstream in
            upstream.script("linux-64/repodata.json.zst", fault: .status(500))
            let channel = try UpstreamChannel(
                baseURL: upstream.baseURL.replacingOccurrences(of: "http://", with: "http://alice:s3cret@"))
            #expect(channel.username == "alice")
            #expect(!channel.baseURL.contains("s3cret"))
            let error = await sluiceError {
                _ = try await makeClient().fetchRepodata(channel: channel, subdir: "linux-64", validators: nil)
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("\(upstream.baseURL)/linux-64/repodata.json.zst") == true)
            #expect(error?.message.contains("500") == true)
            #expect(error?.description.contains("s3cret") == false)
            // Credentials travel only as an Authorization header.
            let request = try #require(upstream.lastRequest("linux-64/repodata.json.zst"))
            #expect(request.headers["authorization"] == "Basic " + Data("alice:s3cret".utf8).base64EncodedString())
        }
    }

    @Test func jsonServerErrorAfterMissingZstdIsUpstreamUnavailable() async throws {
        try await withFakeUpstream(generateZstd: false) { upstream in
            upstream.script(Self.linuxRepodata, fault: .status(503))
            let error = await sluiceError {
                _ = try await makeClient().fetchRepodata(
                    channel: try channel(upstream), subdir: "linux-64", validators: nil)
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("503") == true)
        }
    }

    @Test func garbageIsUpstreamUnavailable() async throws {
        try await withFakeUpstream(generateZstd: false) { upstream in
            upstream.setFile(Self.linuxRepodata, contents: Data("<html>maintenance</html>".utf8))
            let error = await sluiceError {
                _ = try await makeClient().fetchRepodata(
                    channel: try channel(upstream), subdir: "linux-64", validators: nil)
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("not repodata JSON") == true)
        }
    }

    @Test func slowUpstreamIsUpstreamTimeout() async throws {
        try await withFakeUpstream { upstream in
            upstream.script("linux-64/repodata.json.zst", fault: .delay(.seconds(5)))
            let started = ContinuousClock.now
            let error = await sluiceError {
                _ = try await makeClient().fetchRepodata(
                    channel: try channel(upstream, timeout: .milliseconds(300)), subdir: "linux-64",
                    validators: nil)
            }
            #expect(error?.code == .upstreamTimeout)
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    @Test func refusedConnectionIsUpstreamUnavailable() async throws {
        let upstream = try await FakeUpstream.start()
        // The HTTP client retries refused connections until the deadline, then reports the connection error.
        let channel = try channel(upstream, timeout: .seconds(1))
        await upstream.stop()
        let error = await sluiceError {
            _ = try await makeClient().fetchRepodata(channel: channel, subdir: "linux-64", validators: nil)
        }
        #expect(error?.code == .upstreamUnavailable)
        #expect(error?.message.contains("\(upstream.baseURL)/linux-64/repodata.json.zst") == true)
    }

    // MARK: - parsing

    @Test func parseKeepsRecordsAndDropsURLFieldsAndBaseURL() throws {
        let json = try Data(contentsOf: Fixtures.repodata("conda-forge_repodata-version-2.json"))
        let original = try JSONValue.parse(json)
        let records = try makeClient().parseRepodata(json, subdir: "linux-64", filter: .allowAll)
        #expect(
            Set(records.map(\.filename)) == ["_libgcc_mutex-0.1-conda_forge.tar.bz2", "bzip2-1.0.8-hd590300_5.conda"])
        for record in records {
            #expect(record.fields["url"] == nil)
            #expect(record.fields["channel"] == nil)
            #expect(!record.fields.values.contains { $0.stringValue?.contains("anaconda") == true })
            // Everything else exactly as published (including the quirky nulls and build_string).
            let section = record.format == .conda ? "packages.conda" : "packages"
            var published = try #require(original[section]?[record.filename]?.objectValue)
            published["url"] = nil
            #expect(record.fields == published)
        }
    }

    @Test func parseFixtureChannelAndFilter() throws {
        let json = try Self.fixtureJSON(Self.linuxRepodata)
        let client = makeClient()
        let all = try client.parseRepodata(json, subdir: "linux-64", filter: .allowAll)
        #expect(
            Set(all.map(\.filename)) == [
                "libgcc-ng-8.2.0-hdf63c60_1.tar.bz2", "zlib-1.2.11-h7b6447c_3.tar.bz2", "zlib-1.2.11-h7b6447c_3.conda",
            ])
        let zlib = try #require(all.first { $0.filename == "zlib-1.2.11-h7b6447c_3.conda" })
        #expect(zlib.sha256 == "f33afff2144e1d6c4cf2e3e184937db8bf825b4537df74662aea5ee207b6a31b")
        #expect(zlib.depends == ["libgcc-ng >=7.3.0"])

        let onlyZlib = try client.parseRepodata(json, subdir: "linux-64", filter: ConnectorFilter(["zl*"]))
        #expect(Set(onlyZlib.map(\.name)) == ["zlib"])
        #expect(onlyZlib.count == 2)

        let blocked = try client.parseRepodata(json, subdir: "linux-64", filter: ConnectorFilter(["!libgcc-*"]))
        #expect(Set(blocked.map(\.name)) == ["zlib"])
    }

    @Test func parseDropsInvalidKeysFillsSubdirAndIgnoresRemoved() throws {
        let json = Data(
            """
            {"info": {"subdir": "noarch", "base_url": "https://elsewhere.example/noarch/"},
             "packages": {
               "good-1.0-0.tar.bz2": {"name": "good", "version": "1.0", "build": "0", "build_number": 0,
                                      "depends": [], "url": "https://elsewhere.example/good-1.0-0.tar.bz2"},
               "not-a-package.txt": {"name": "x"},
               "../evil-1.0-0.tar.bz2": {"name": "evil"},
               "array-1.0-0.tar.bz2": []
             },
             "packages.conda": {"renamed-1.0-0.conda": {"name": "blocked-name", "version": "1.0", "build": "0"}},
             "removed": ["gone-1.0-0.tar.bz2"], "repodata_version": 2}
            """.utf8)
        let client = makeClient()
        let records = try client.parseRepodata(json, subdir: "noarch", filter: ConnectorFilter(["!blocked-*"]))
        #expect(records.map(\.filename) == ["good-1.0-0.tar.bz2"])
        #expect(records[0].subdir == "noarch")
        #expect(records[0].fields["url"] == nil)

        #expect(try client.parseRepodata(Data(), subdir: "noarch", filter: .allowAll).isEmpty)
        #expect(try client.parseRepodata(Data("{}".utf8), subdir: "noarch", filter: .allowAll).isEmpty)
    }

    @Test func parseRejectsGarbageAndWrongSubdir() throws {
        let client = makeClient()
        let garbage = #expect(throws: SluiceError.self) {
            try client.parseRepodata(Data("{\"packages\": ".utf8), subdir: "linux-64", filter: .allowAll)
        }
        #expect(garbage?.code == .upstreamUnavailable)
        let wrong = #expect(throws: SluiceError.self) {
            try client.parseRepodata(
                try Self.fixtureJSON("osx-64/repodata.json"), subdir: "linux-64", filter: .allowAll)
        }
        #expect(wrong?.code == .upstreamUnavailable)
        #expect(wrong?.message.contains("osx-64") == true)
    }
}
