import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Calls a REST API handler from a UI form, so that the UI does exactly what the API does (validation, security
/// checks, event log, republishing) without a second implementation: the form becomes the JSON body the API
/// documents, the route parameters are set, and the answer's JSON comes back. Errors are the handler's
/// `SluiceError`s, thrown as they are.
enum APIBridge {
    typealias Handler = @Sendable (Request, SluiceRequestContext) async throws -> Response

    /// Runs `handler` with `body` as its JSON request body and `parameters` as its path parameters, in `context`
    /// (which carries the viewer's identity); returns the response's status and JSON body (`.null` when empty).
    /// - Throws: what the handler throws; `.internalError` when it answers with an error status without throwing.
    static func call(
        _ handler: Handler, method: HTTPRequest.Method = .post, path: String, body: JSONValue? = nil,
        parameters: [String: String] = [:], query: String = "", context: SluiceRequestContext
    ) async throws -> (status: HTTPResponse.Status, json: JSONValue) {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let head = HTTPRequest(
            method: method, scheme: "http", authority: "sluice.ui",
            path: query.isEmpty ? path : path + "?" + query, headerFields: fields)
        let bytes = body?.compactJSON() ?? []
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: bytes)))
        var context = context
        var values = Parameters()
        for (key, value) in parameters {
            values.append(key: Substring(key), value: Substring(value))
        }
        context.coreContext.parameters = values
        let response = try await handler(request, context)
        let collector = BodyCollector()
        try await response.body.write(collector)
        let data = await collector.bytes
        let json = data.isEmpty ? JSONValue.null : (try? JSONValue.parse(data)) ?? .null
        guard response.status.code < 400 || response.status == .unprocessableContent else {
            let message = json.objectValue?["message"]?.stringValue ?? "The request failed (\(response.status.code))."
            throw SluiceError(.internalError, message)
        }
        return (response.status, json)
    }
}

/// Collects a response body in memory (API answers are small JSON documents).
private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []

    var bytes: [UInt8] {
        get async { lock.withLock { buffer } }
    }

    func write(_ buffer: ByteBuffer) async throws {
        lock.withLock { self.buffer.append(contentsOf: buffer.readableBytesView) }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
