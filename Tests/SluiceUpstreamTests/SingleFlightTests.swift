import Foundation
import SluiceCore
import SluiceTesting
import SluiceUpstream
import Synchronization
import Testing

@Suite("SingleFlight")
struct SingleFlightTests {
    @Test func fiftyConcurrentDownloadsCauseOneUpstreamRequest() async throws {
        try await withFakeUpstream { upstream in
            let client = makeClient()
            let channel = try channel(upstream)
            let filename = "zlib-1.2.11-h7b6447c_3.conda"
            let path = "linux-64/\(filename)"
            // Slow the answer down so that all callers arrive while the one download runs.
            upstream.script(path, fault: .delay(.milliseconds(300)))
            let expected = ExpectedFile(record: try fixtureRecord(subdir: "linux-64", filename: filename))
            let flight = SingleFlight<String, DownloadedFile>()
            let target = try temporaryFileURL()

            let results = try await withThrowingTaskGroup(of: DownloadedFile.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await flight.run(key: path) {
                            try await client.downloadPackage(
                                channel: channel, subdir: "linux-64", filename: filename, expected: expected,
                                to: target)
                        }
                    }
                }
                var collected: [DownloadedFile] = []
                for try await result in group { collected.append(result) }
                return collected
            }

            #expect(results.count == 50)
            #expect(Set(results.map(\.sha256)) == [expected.sha256!])
            #expect(upstream.requestCount(path) == 1)
            #expect(await flight.runningCount == 0)
            let fixture = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent(path))
            #expect(try Data(contentsOf: target) == fixture)
        }
    }

    @Test func sharesErrorsAndReleasesTheKey() async throws {
        struct Boom: Error {}
        let flight = SingleFlight<String, Int>()
        let executions = Locked(0)
        let gate = AsyncStream<Void>.makeStream()

        let errors = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    _ = try await flight.run(key: "k") {
                        executions.withLock { $0 += 1 }
                        for await _ in gate.stream {}  // wait until released
                        throw Boom()
                    }
                    return false
                } catch { return error is Boom }
            }
            // Wait until the first run is in flight, then join it nine times.
            while await !flight.isRunning(key: "k") { await Task.yield() }
            for _ in 0..<9 {
                group.addTask {
                    do {
                        _ = try await flight.run(key: "k") {
                            executions.withLock { $0 += 1 }
                            return 1
                        }
                        return false
                    } catch { return error is Boom }
                }
            }
            while await flight.callerCount(key: "k") < 10 { await Task.yield() }
            gate.continuation.finish()
            var results: [Bool] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(errors.count == 10)
        #expect(errors.allSatisfy { $0 })
        #expect(executions.withLock { $0 } == 1)
        #expect(await flight.isRunning(key: "k") == false)

        // Released: the next call runs the operation again.
        let value = try await flight.run(key: "k") {
            executions.withLock { $0 += 1 }
            return 7
        }
        #expect(value == 7)
        #expect(executions.withLock { $0 } == 2)
    }

    @Test func differentKeysRunSeparately() async throws {
        let flight = SingleFlight<Int, Int>()
        let executions = Locked(0)
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for key in 0..<5 {
                group.addTask {
                    try await flight.run(key: key) {
                        executions.withLock { $0 += 1 }
                        try await Task.sleep(for: .milliseconds(20))
                        return key * 10
                    }
                }
            }
            var collected: [Int] = []
            for try await value in group { collected.append(value) }
            return collected.sorted()
        }
        #expect(values == [0, 10, 20, 30, 40])
        #expect(executions.withLock { $0 } == 5)
    }
}
