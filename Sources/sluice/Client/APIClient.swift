import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceServer

/// A failure the CLI reports to the user: the server's own message when it sent one, or what went wrong locally.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

/// A small client of the Sluice REST API, used by every command except `serve`.
///
/// It sends credentials on every request (`X-ApiKey` or HTTP Basic), turns a non-2xx answer into a ``CLIError``
/// carrying the server's `{"error": code, "message": ...}` message, and returns 2xx bodies as raw bytes.
struct APIClient: Sendable {
    /// How to authenticate.
    enum Credentials: Sendable {
        case none
        case apiKey(String)
        case basic(user: String, password: String)
    }

    /// Where the server is and how to authenticate against it.
    struct Settings: Sendable {
        var baseURL: String
        var credentials: Credentials
    }

    /// A successful answer.
    struct Response: Sendable {
        var status: Int
        var body: [UInt8]

        /// The body parsed as JSON.
        ///
        /// - Throws: ``CLIError`` when the body is not JSON.
        func json() throws -> JSONValue {
            do {
                return try JSONValue.parse(body)
            } catch {
                throw CLIError("The server answered with something that is not JSON: \(error.message)")
            }
        }

        /// The body as text (for `--json` output).
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let settings: Settings
    let httpClient: HTTPClient

    /// Runs `body` with a client whose HTTP connections are shut down afterwards.
    static func withClient<Result>(
        _ settings: Settings,
        _ body: (APIClient) async throws -> Result
    ) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(600))
        configuration.decompression = .disabled
        return try await HTTPClient.withHTTPClient(configuration: configuration) { httpClient in
            try await body(APIClient(settings: settings, httpClient: httpClient))
        }
    }

    /// The absolute URL of an API path (`path` starts with `/`), with percent-encoded query items.
    func url(_ path: String, query: [(String, String)] = []) -> String {
        var result = settings.baseURL + path
        if !query.isEmpty {
            result += "?" + query.map { "\(Self.encodeQuery($0.0))=\(Self.encodeQuery($0.1))" }.joined(separator: "&")
        }
        return result
    }

    /// Percent-encodes one path segment (a feed or file name).
    static func encodePath(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathSegmentAllowed) ?? segment
    }

    private static func encodeQuery(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? value
    }

    /// Builds a request with the credentials and an `Accept: application/json` header.
    func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = []) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "sluice-cli/\(SluiceVersion.current)")
        switch settings.credentials {
        case .none: break
        case .apiKey(let key): request.headers.add(name: "X-ApiKey", value: key)
        case .basic(let user, let password): request.setBasicAuth(username: user, password: password)
        }
        return request
    }

    /// Sends a request without a body.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = []) async throws -> Response {
        try await execute(request(method, path, query: query))
    }

    /// Sends a request with a JSON body encoded from `payload`.
    func send(_ method: HTTPMethod, _ path: String, json payload: some Encodable) async throws -> Response {
        var request = request(method, path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(payload)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: data))
        return try await execute(request)
    }

    /// Sends a request whose JSON body is `value` as it stands, so that an explicit `null` (e.g. `"password": null`
    /// to remove a field) reaches the server; absent keys are simply not sent.
    func send(_ method: HTTPMethod, _ path: String, jsonValue value: JSONValue) async throws -> Response {
        var request = request(method, path)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: value.compactJSON()))
        return try await execute(request)
    }

    /// Executes a prepared request and maps a non-2xx status to a ``CLIError``.
    ///
    /// - Throws: ``CLIError`` with the server's message, or with the connection failure.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(600)) async throws -> Response {
        let response: HTTPClientResponse
        var body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: timeout)
            body = try await response.body.collect(upTo: 256 << 20)
        } catch let error as HTTPClientError {
            throw CLIError("Could not reach \(settings.baseURL): \(error)")
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("Could not reach \(settings.baseURL) (\(request.method) \(request.url)): \(error)")
        }
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            throw CLIError(Self.errorMessage(status: response.status, body: bytes))
        }
        return Response(status: status, body: bytes)
    }

    /// The message of an error answer: the server's `message` (and `error` code) when the body is Sluice's JSON
    /// error, else the status line.
    static func errorMessage(status: HTTPResponseStatus, body: [UInt8]) -> String {
        if let value = try? JSONValue.parse(body) {
            let message = value["message"]?.stringValue ?? value["reason"]?.stringValue
            let code = value["error"]?.stringValue
            if let message {
                return code.map { "\(message) (\(status.code) \($0))" } ?? "\(message) (\(status.code))"
            }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = "server answered \(status.code) \(status.reasonPhrase)"
        return text.isEmpty ? reason : "\(reason): \(text)"
    }
}

extension CharacterSet {
    /// Characters left as they are in one URL path segment.
    static let urlPathSegmentAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        set.insert(charactersIn: "-._~!$&'()*+,;=:@")
        return set
    }()

    /// Characters left as they are in a query value.
    static let urlQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics.intersection(
            CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        set.insert(charactersIn: "-._~!$'()*,;:@/?")
        return set
    }()
}
