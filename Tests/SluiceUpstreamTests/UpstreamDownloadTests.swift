import Foundation
import NIOCore
import SluiceCore
import SluiceTesting
import SluiceUpstream
import Synchronization
import Testing

@Suite("UpstreamClient downloads")
struct UpstreamDownloadTests {
    static let subdir = "linux-64"
    static let filename = "zlib-1.2.11-h7b6447c_3.tar.bz2"
    static var path: String { "\(subdir)/\(filename)" }

    static func expected() throws -> ExpectedFile {
        ExpectedFile(record: try fixtureRecord(subdir: subdir, filename: filename))
    }

    static func fixtureBytes() throws -> Data {
        try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent(path))
    }

    @Test func downloadsVerifiesAndStreamsTheRealPackage() async throws {
        try await withFakeUpstream { upstream in
            let target = try temporaryFileURL()
            let streamed = Locked(Data())
            let downloaded = try await makeClient().downloadPackage(
                channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                expected: try Self.expected(), to: target
            ) { chunk in
                streamed.withLock { $0.append(contentsOf: chunk.readableBytesView) }
            }
            let fixture = try Self.fixtureBytes()
            #expect(try Data(contentsOf: target) == fixture)
            #expect(streamed.withLock { $0 } == fixture)
            #expect(downloaded.size == Int64(fixture.count))
            #expect(downloaded.sha256 == "1f07873d6aa0cd18760a7b215d9956f7fa63c2f2761b03f293c659fe982923fa")
            #expect(downloaded.md5 == "2e5b81671cc2b53177b94b258b1658b2")
            #expect(upstream.requestCount(Self.path) == 1)
        }
    }

    @Test func verifiesWithMD5WhenThereIsNoSHA256() async throws {
        try await withFakeUpstream { upstream in
            let record = try Self.expected()
            let target = try temporaryFileURL()
            try await makeClient().downloadPackage(
                channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                expected: ExpectedFile(size: record.size, md5: record.md5), to: target)
            #expect(try Data(contentsOf: target) == (try Self.fixtureBytes()))

            let wrongMD5 = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: ExpectedFile(size: record.size, md5: String(repeating: "0", count: 32)), to: target)
            }
            #expect(wrongMD5?.code == .upstreamUnavailable)
            #expect(wrongMD5?.message.contains("md5") == true)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func wrongBytesAreRejectedAndTheTemporaryFileRemoved() async throws {
        try await withFakeUpstream { upstream in
            upstream.script(Self.path, fault: .wrongBytes)
            let target = try temporaryFileURL()
            let error = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: try Self.expected(), to: target)
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("sha256") == true)
            #expect(error?.message.contains(upstream.url(Self.path)) == true)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func connectionCutMidBodyIsAnErrorAndLeavesNoFile() async throws {
        try await withFakeUpstream { upstream in
            upstream.script(Self.path, fault: .cutAfter(bytes: 50_000))
            let target = try temporaryFileURL()
            let received = Locked(0)
            let error = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: try Self.expected(), to: target
                ) { chunk in
                    received.withLock { $0 += chunk.readableBytes }
                }
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("cut") == true)
            #expect(received.withLock { $0 } <= 50_000)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func sizeDifferentFromTheRecordIsRejectedBeforeWriting() async throws {
        try await withFakeUpstream { upstream in
            var expected = try Self.expected()
            expected.size += 1
            let target = try temporaryFileURL()
            let error = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: expected, to: target)
            }
            #expect(error?.code == .upstreamUnavailable)
            #expect(error?.message.contains("\(expected.size)") == true)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func stalledBodyIsUpstreamTimeout() async throws {
        try await withFakeUpstream { upstream in
            upstream.script(Self.path, fault: .stall(afterBytes: 10_000, duration: .seconds(5)))
            let target = try temporaryFileURL()
            let started = ContinuousClock.now
            let error = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream, timeout: .milliseconds(400)), subdir: Self.subdir,
                    filename: Self.filename, expected: try Self.expected(), to: target)
            }
            #expect(error?.code == .upstreamTimeout)
            #expect(ContinuousClock.now - started < .seconds(4))
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test func slowAnswerIsUpstreamTimeout() async throws {
        try await withFakeUpstream { upstream in
            upstream.script(Self.path, fault: .delay(.seconds(5)))
            let error = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream, timeout: .milliseconds(300)), subdir: Self.subdir,
                    filename: Self.filename, expected: try Self.expected(), to: try temporaryFileURL())
            }
            #expect(error?.code == .upstreamTimeout)
        }
    }

    @Test func missingFileIsNotFoundAndServerErrorIsUnavailable() async throws {
        try await withFakeUpstream { upstream in
            // Listed in the fixture's repodata but absent from the channel (a known gap of the fixture).
            let record = try fixtureRecord(subdir: "linux-64", filename: "libgcc-ng-8.2.0-hdf63c60_1.tar.bz2")
            let missing = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: "linux-64", filename: record.filename,
                    expected: ExpectedFile(record: record), to: try temporaryFileURL())
            }
            #expect(missing?.code == .notFound)

            upstream.script(Self.path, fault: .status(502))
            let broken = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: try Self.expected(), to: try temporaryFileURL())
            }
            #expect(broken?.code == .upstreamUnavailable)
            #expect(broken?.message.contains("502") == true)
        }
    }

    @Test func faultsCanBeLimitedToTheNextRequests() async throws {
        try await withFakeUpstream { upstream in
            upstream.script(Self.path, fault: .status(500), times: 1)
            let target = try temporaryFileURL()
            _ = await sluiceError {
                try await makeClient().downloadPackage(
                    channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                    expected: try Self.expected(), to: target)
            }
            try await makeClient().downloadPackage(
                channel: try channel(upstream), subdir: Self.subdir, filename: Self.filename,
                expected: try Self.expected(), to: target)
            #expect(try Data(contentsOf: target) == (try Self.fixtureBytes()))
            #expect(upstream.requestCount(Self.path) == 2)
        }
    }
}
