import AsyncHTTPClient
import Foundation
import Logging
import SluiceCore
import SluiceTesting
import SluiceUpstream
import Synchronization
import Testing

/// Runs `body` against a fresh fake upstream and stops it afterwards, also when `body` throws.
func withFakeUpstream<T>(
    root: URL = Fixtures.condaFormatRepo,
    generateZstd: Bool = true,
    _ body: (FakeUpstream) async throws -> T
) async throws -> T {
    let upstream = try await FakeUpstream.start(root: root, generateZstd: generateZstd)
    do {
        let result = try await body(upstream)
        await upstream.stop()
        return result
    } catch {
        await upstream.stop()
        throw error
    }
}

func makeClient() -> UpstreamClient {
    var logger = Logger(label: "sluice.upstream.tests")
    logger.logLevel = .critical
    return UpstreamClient(httpClient: .shared, logger: logger)
}

func channel(_ upstream: FakeUpstream, timeout: Duration = .seconds(10)) throws -> UpstreamChannel {
    try UpstreamChannel(baseURL: upstream.baseURL, timeout: timeout)
}

/// Runs `body` and returns the `SluiceError` it threw (failing the test when it threw nothing or something else).
func sluiceError(_ body: () async throws -> Void) async -> SluiceError? {
    do {
        try await body()
        Issue.record("expected a SluiceError, nothing was thrown")
        return nil
    } catch let error as SluiceError {
        return error
    } catch {
        Issue.record("expected a SluiceError, got \(error)")
        return nil
    }
}

/// A fresh temporary file path in a fresh directory.
func temporaryFileURL(_ name: String = "download.part") throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("sluice-upstream-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name)
}

/// The record for `filename` in the fixture channel's `<subdir>/repodata.json`.
func fixtureRecord(subdir: String, filename: String) throws -> PackageRecord {
    let data = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/repodata.json"))
    let document = try JSONValue.parse(data)
    let section = filename.hasSuffix(".conda") ? "packages.conda" : "packages"
    let fields = try #require(document[section]?[filename]?.objectValue)
    return PackageRecord(filename: filename, fields: fields)
}

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let offset = Mutex<Duration>(.zero)
    let start = ContinuousClock.now

    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

/// A value behind a lock that closures running in other tasks can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}
