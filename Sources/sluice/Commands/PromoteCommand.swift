import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore

/// `sluice promote ...`: move packages from one feed (typically the proxy feed `unapproved-conda`) into a hosted feed
/// (typically `approved-conda`) through `/api/promotions/*`, and show the promotion history.
///
/// `sluice promote --from F --to T NAME VERSION` is short for `sluice promote package --from F --to T NAME VERSION`.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Promote packages from one feed into a hosted feed, and show the promotion history.",
        discussion: """
            `sluice promote --from F --to T NAME VERSION` promotes one package version (the `package` subcommand is \
            the default). `sluice promote env` promotes every file an environment file lists, all or nothing; \
            `sluice promote history` lists past promotions.
            """,
        subcommands: [Package.self, Environment.self, History.self],
        defaultSubcommand: Package.self
    )

    /// `sluice promote package --from F --to T NAME VERSION`: `POST /api/promotions/promote`.
    struct Package: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Promote every file of a package version (narrowed by --subdir, --build, --filename).",
            discussion: """
                The source may be a proxy feed: files not cached yet are fetched from the upstream and verified \
                first. The target must be a hosted feed. Promoting a file that is already there changes nothing and \
                says so.
                """
        )

        @Option(name: .customLong("from"), help: ArgumentHelp("The feed to promote from.", valueName: "feed"))
        var fromFeed: String

        @Option(name: .customLong("to"), help: ArgumentHelp("The hosted feed to promote into.", valueName: "feed"))
        var toFeed: String

        @Argument(help: "Package name.")
        var name: String

        @Argument(help: "Package version.")
        var version: String

        @Option(help: "Only files of this subdir (e.g. linux-64, noarch).")
        var subdir: String?

        @Option(help: "Only files with this build string.")
        var build: String?

        @Option(help: "Only this file name.")
        var filename: String?

        @Option(help: "Why it is promoted; recorded in the history.")
        var comment: String?

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var fromFeed: String
            var toFeed: String
            var name: String
            var version: String
            var comments: String
            var subdir: String?
            var build: String?
            var filename: String?
        }

        static let columns: [(key: String, header: String)] = [
            ("subdir", "SUBDIR"), ("filename", "FILENAME"), ("build", "BUILD"), ("size", "SIZE"),
            ("result", "RESULT"), ("sha256", "SHA256"),
        ]

        func run() async throws {
            let body = Body(
                fromFeed: fromFeed, toFeed: toFeed, name: name, version: version, comments: comment ?? "",
                subdir: subdir, build: build, filename: filename)
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/promotions/promote", json: body)
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try response.json()
            print(value["message"]?.stringValue ?? "Promoted \(name) \(version) from \(fromFeed) to \(toFeed).")
            let files = value["files"]?.arrayValue ?? []
            if !files.isEmpty {
                print(Table(objects: files, columns: Self.columns).render())
            }
        }
    }

    /// `sluice promote env --from F --to T FILE`: `POST /api/promotions/promote-environment` with the file's text.
    struct Environment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "env",
            abstract: "Promote every package an environment file lists, all or nothing.",
            discussion: """
                FILE is an explicit file (`conda list --explicit --md5` or `--sha256`), a conda-lock file or a \
                pixi.lock file; `-` reads standard input. Every line is resolved to a file of the source feed by \
                subdir and file name and its checksum compared. One report line is printed per entry. If any entry \
                fails, nothing is promoted and the exit status is 1. --dry-run only reports.
                """
        )

        @Option(name: .customLong("from"), help: ArgumentHelp("The feed to promote from.", valueName: "feed"))
        var fromFeed: String

        @Option(name: .customLong("to"), help: ArgumentHelp("The hosted feed to promote into.", valueName: "feed"))
        var toFeed: String

        @Argument(help: "The environment file (`-` for standard input).", completion: .file())
        var file: String

        @Flag(help: "Report what would be promoted without changing anything.")
        var dryRun = false

        @Option(help: "Why it is promoted; recorded in the history.")
        var comment: String?

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var fromFeed: String
            var toFeed: String
            var environment: String
            var comments: String?
            var dryRun: Bool
        }

        static let columns: [(key: String, header: String)] = [
            ("line", "LINE"), ("status", "STATUS"), ("subdir", "SUBDIR"), ("filename", "FILENAME"),
            ("message", "MESSAGE"),
        ]

        func run() async throws {
            let text = try readEnvironment()
            let body = Body(
                fromFeed: fromFeed, toFeed: toFeed, environment: text, comments: comment, dryRun: dryRun)
            let settings = try connection.resolved()
            let (status, bytes) = try await APIClient.withClient(settings) { client in
                try await Self.send(body, client: client)
            }
            let report = try? JSONValue.parse(bytes)
            // 422: the server's per-line report says which lines cannot be promoted; anything else is a plain error.
            guard (200..<300).contains(status) || (status == 422 && report?["lines"] != nil) else {
                throw CLIError(APIClient.errorMessage(status: HTTPResponseStatus(statusCode: status), body: bytes))
            }
            if connection.json {
                print(String(decoding: bytes, as: UTF8.self))
            } else if let report {
                print(Self.render(report, failed: status == 422))
            }
            if status == 422 {
                printToStandardError(report?["message"]?.stringValue ?? "Nothing was promoted.")
                throw ExitCode.failure
            }
        }

        /// The summary line and the per-line table of a report.
        static func render(_ report: JSONValue, failed: Bool) -> String {
            let lines = report["lines"]?.arrayValue ?? []
            let dryRun = report["dryRun"]?.boolValue ?? false
            let promoted = report["promoted"].map(Table.display) ?? "0"
            let already = report["alreadyPromoted"].map(Table.display) ?? "0"
            let from = report["fromFeed"]?.stringValue ?? "?"
            let to = report["toFeed"]?.stringValue ?? "?"
            let summary: String
            if failed {
                let bad = lines.count { line in
                    !["promoted", "alreadyPromoted", "wouldPromote", "skipped"].contains(
                        line["status"]?.stringValue ?? "")
                }
                summary = "\(bad) line(s) cannot be promoted from \(from) to \(to); nothing was promoted."
            } else if dryRun {
                summary =
                    "Dry run: \(promoted) file(s) would be promoted from \(from) to \(to), \(already) already there."
            } else {
                summary = "Promoted \(promoted) file(s) from \(from) to \(to), \(already) already there."
            }
            guard !lines.isEmpty else { return summary }
            // In a failed report the server marks the lines that resolved as `resolved`; none was promoted.
            return summary + "\n" + Table(objects: lines, columns: columns).render()
        }

        private func readEnvironment() throws -> String {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw CLIError("cannot read \(file): no such file or no permission")
                }
                data = contents
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw CLIError("\(file) is not UTF-8 text")
            }
            return text
        }

        /// Sends the request and returns the status and body whatever the status (``APIClient/execute(_:timeout:)``
        /// would drop the body of the 422 report).
        private static func send(_ body: Body, client: APIClient) async throws -> (Int, [UInt8]) {
            var request = client.request(.POST, "/api/promotions/promote-environment")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))
            do {
                let response = try await client.httpClient.execute(request, timeout: .seconds(600))
                var buffer = try await response.body.collect(upTo: 64 << 20)
                return (Int(response.status.code), buffer.readBytes(length: buffer.readableBytes) ?? [])
            } catch {
                throw CLIError("Could not reach \(client.settings.baseURL): \(error)")
            }
        }
    }

    /// `sluice promote history`: `GET /api/promotions/list`, newest first.
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List past promotions (and removals from a target feed), newest first.")

        @Option(name: .customLong("from"), help: ArgumentHelp("Only promotions from this feed.", valueName: "feed"))
        var fromFeed: String?

        @Option(name: .customLong("to"), help: ArgumentHelp("Only promotions into this feed.", valueName: "feed"))
        var toFeed: String?

        @Option(help: "Only this package name.")
        var package: String?

        @Option(help: "Only this version.")
        var version: String?

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            var query: [(String, String)] = []
            if let fromFeed { query.append(("fromFeed", fromFeed)) }
            if let toFeed { query.append(("toFeed", toFeed)) }
            if let package { query.append(("package", package)) }
            if let version { query.append(("version", version)) }
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/promotions/list", query: query)
            }
            if connection.json {
                print(response.text)
                return
            }
            let rows = Self.rows(try response.json())
            if rows.isEmpty {
                print("No promotions.")
            } else {
                print(
                    Table(
                        headers: ["DATE", "NAME", "VERSION", "KIND", "FROM", "TO", "USER", "FILES", "COMMENTS"],
                        rows: rows
                    ).render())
            }
        }

        /// One row per promotion of the grouped history, newest first.
        static func rows(_ history: JSONValue) -> [[String]] {
            var rows: [[String]] = []
            for group in history.arrayValue ?? [] {
                let name = group["name"]?.stringValue ?? ""
                let version = group["version"]?.stringValue ?? ""
                for promotion in group["promotions"]?.arrayValue ?? [] {
                    let files = (promotion["files"]?.arrayValue ?? []).compactMap { file -> String? in
                        guard let filename = file["filename"]?.stringValue else { return nil }
                        return file["subdir"]?.stringValue.map { "\($0)/\(filename)" } ?? filename
                    }
                    rows.append([
                        promotion["date"].map(Table.display) ?? "", name, version,
                        promotion["kind"]?.stringValue ?? "", promotion["fromFeed"].map(Table.display) ?? "",
                        promotion["toFeed"]?.stringValue ?? "", promotion["user"].map(Table.display) ?? "",
                        files.joined(separator: ", "), promotion["comments"]?.stringValue ?? "",
                    ])
                }
            }
            return rows.sorted { $0[0] > $1[0] }
        }
    }
}
