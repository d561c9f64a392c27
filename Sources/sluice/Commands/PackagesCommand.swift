import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore

/// `sluice packages ...`: upload, list and delete package files of a feed, and list what a proxy feed has cached from
/// its upstreams, through `/api/packages/{feed}/*`.
struct PackagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "packages",
        abstract: "Upload, list and delete conda packages in a feed; list a proxy feed's cached upstream files.",
        subcommands: [Upload.self, List.self, Cached.self, Delete.self]
    )

    /// `sluice packages upload --feed F FILE...`: `PUT /api/packages/{feed}/upload/{filename}` per file, streamed.
    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload .conda and .tar.bz2 files to a feed.",
            discussion: """
                Each file is streamed to the server, with a progress bar on standard error for large files when it \
                is a terminal. One result line is printed per file; the exit status is 1 if any upload failed.
                """
        )

        @Option(help: "The feed to upload to.")
        var feed: String

        @Flag(help: "Replace a file of the same name that has different bytes (otherwise the server answers 409).")
        var overwrite = false

        @Argument(help: "Package files (.conda or .tar.bz2).", completion: .file())
        var files: [String]

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if files.isEmpty { throw ValidationError("Name at least one package file.") }
        }

        func run() async throws {
            let settings = try connection.resolved()
            let failures = try await APIClient.withClient(settings) { client in
                var failures = 0
                for path in files {
                    let filename = URL(fileURLWithPath: path).lastPathComponent
                    do {
                        let response = try await upload(path: path, filename: filename, client: client)
                        if connection.json {
                            print(response.text)
                        } else {
                            print("uploaded  \(filename)  \(Self.describe(response))")
                        }
                    } catch {
                        failures += 1
                        if connection.json {
                            printToStandardError("failed  \(filename): \(error)")
                        } else {
                            print("failed    \(filename)  \(error)")
                        }
                    }
                }
                return failures
            }
            if failures > 0 {
                printToStandardError("\(failures) of \(files.count) uploads failed.")
                throw ExitCode.failure
            }
        }

        private func upload(path: String, filename: String, client: APIClient) async throws -> APIClient.Response {
            let size: Int64
            do {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                guard (attributes[.type] as? FileAttributeType) == .typeRegular else {
                    throw CLIError("not a regular file")
                }
                size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("cannot read \(path): no such file or no permission")
            }
            let progress = ProgressBar(label: filename, total: size)
            defer { progress.finish() }
            var request = client.request(
                .PUT,
                "/api/packages/\(APIClient.encodePath(feed))/upload/\(APIClient.encodePath(filename))",
                query: overwrite ? [("overwrite", "true")] : []
            )
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            let chunks = FileChunks(path: path) { count in progress.advance(by: count) }
            request.body = .stream(chunks, length: .known(size))
            return try await client.execute(request, timeout: .hours(6))
        }

        /// What the server did with an uploaded file, from its answer: the record's subdir and whether it was added,
        /// replaced or already there.
        static func describe(_ response: APIClient.Response) -> String {
            guard let value = try? response.json() else { return "(\(response.status))" }
            let package = value["package"] ?? value
            let subdir = package["subdir"]?.stringValue
            let outcome =
                value["outcome"]?.stringValue ?? value["status"]?.stringValue
                ?? (response.status == 201 ? "added" : "ok")
            return [subdir.map { "subdir=\($0)" }, outcome].compactMap { $0 }.joined(separator: "  ")
        }
    }

    /// `sluice packages list --feed F [--name N]`: `GET /api/packages/{feed}/versions[?name=N]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the package files a feed holds.")

        @Option(help: "The feed to list.")
        var feed: String

        @Option(help: "Only this package name.")
        var name: String?

        @OptionGroup var connection: ConnectionOptions

        static let columns: [(key: String, header: String)] = [
            ("name", "NAME"), ("version", "VERSION"), ("build", "BUILD"), ("subdir", "SUBDIR"),
            ("filename", "FILENAME"), ("size", "SIZE"),
        ]

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(
                    .GET, "/api/packages/\(APIClient.encodePath(feed))/versions",
                    query: name.map { [("name", $0)] } ?? []
                )
            }
            if connection.json {
                print(response.text)
                return
            }
            let packages = listItems(in: try response.json())
            if packages.isEmpty {
                print(name.map { "No package named \($0) in feed \(feed)." } ?? "Feed \(feed) holds no packages.")
            } else {
                print(Table(objects: packages, columns: Self.columns).render())
            }
        }
    }

    /// `sluice packages cached --feed F`: `GET /api/packages/{feed}/cached`, the upstream files a proxy feed's
    /// connectors have cached.
    struct Cached: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the upstream files a proxy feed has cached (in connector order, then subdir and name).")

        @Option(help: "The proxy feed.")
        var feed: String

        @OptionGroup var connection: ConnectionOptions

        static let columns: [(key: String, header: String)] = [
            ("connector", "CONNECTOR"), ("subdir", "SUBDIR"), ("filename", "FILENAME"), ("size", "SIZE"),
            ("cachedAt", "CACHED"), ("lastAccessedAt", "LAST-ACCESS"),
        ]

        func run() async throws {
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.GET, "/api/packages/\(APIClient.encodePath(feed))/cached")
            }
            if connection.json {
                print(response.text)
                return
            }
            let files = listItems(in: try response.json())
            if files.isEmpty {
                print("Feed \(feed) has cached no upstream files yet.")
            } else {
                print(Table(objects: files, columns: Self.columns).render())
            }
        }
    }

    /// `sluice packages delete --feed F ...`: `POST /api/packages/{feed}/delete`, by file name or by name + version.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete package files from a feed.",
            discussion: """
                Either name one file (--filename, with --subdir when the same file name exists in several subdirs), \
                or a package version (--name and --version, optionally --build and --subdir).
                """
        )

        @Option(help: "The feed to delete from.")
        var feed: String

        @Option(help: "The file name to delete, e.g. zlib-1.2.11-h1de35cc_3.conda.")
        var filename: String?

        @Option(help: "Only in this subdir (e.g. linux-64, noarch).")
        var subdir: String?

        @Option(help: "Package name (with --version).")
        var name: String?

        @Option(help: "Package version (with --name).")
        var version: String?

        @Option(help: "Build string (with --name and --version).")
        var build: String?

        @OptionGroup var connection: ConnectionOptions

        struct Body: Encodable {
            var filename: String?
            var name: String?
            var version: String?
            var build: String?
            var subdir: String?
        }

        func validate() throws {
            if filename != nil {
                if name != nil || version != nil || build != nil {
                    throw ValidationError("Pass either --filename or --name/--version, not both.")
                }
            } else if name == nil || version == nil {
                throw ValidationError("Pass --filename, or both --name and --version.")
            }
        }

        func run() async throws {
            let body = Body(filename: filename, name: name, version: version, build: build, subdir: subdir)
            let response = try await APIClient.withClient(try connection.resolved()) { client in
                try await client.send(.POST, "/api/packages/\(APIClient.encodePath(feed))/delete", json: body)
            }
            if connection.json {
                print(response.text)
                return
            }
            let value = try? response.json()
            let deleted = value.map(listItems(in:)) ?? []
            if deleted.isEmpty {
                print("Deleted.")
            } else {
                for item in deleted {
                    let file = item["filename"]?.stringValue ?? Table.display(item)
                    let where_ = item["subdir"]?.stringValue.map { "\($0)/" } ?? ""
                    print("deleted  \(where_)\(file)")
                }
            }
        }
    }
}

/// Writes one line to standard error.
func printToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
