package fluxj.server;

import org.apache.commons.fileupload.FileItemIterator;
import org.apache.commons.fileupload.FileItemStream;
import org.apache.commons.fileupload.FileUpload;
import org.apache.commons.fileupload.FileUploadException;
import org.apache.commons.fileupload.UploadContext;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A {@code multipart/form-data} body (the OpenAI edits endpoint), parsed by Apache Commons FileUpload. */
final class Multipart {
    /** An uploaded file: its form field, the client's file name and its bytes. */
    record Upload(String field, String filename, byte[] bytes) {}

    /** The text fields and the files of a form, in their order. */
    record Form(Map<String, String> fields, List<Upload> files) {
        List<Upload> files(String... names) {
            List<String> wanted = List.of(names);
            return files.stream().filter(u -> wanted.contains(u.field())).toList();
        }
    }

    private static final int MAX_PARTS = 64;

    private Multipart() {}

    static Form parse(Call c, long maxBody) throws IOException {
        String type = c.header("Content-Type");
        if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/form-data")) {
            throw ApiException.invalid(null, "the body must be multipart/form-data (with the image files), got " + (type == null ? "no Content-Type" : type));
        }
        byte[] body = c.body();
        FileUpload upload = new FileUpload();
        upload.setSizeMax(maxBody);
        upload.setFileCountMax(MAX_PARTS);
        UploadContext ctx = new UploadContext() {
            @Override
            public String getCharacterEncoding() { return StandardCharsets.UTF_8.name(); }

            @Override
            public String getContentType() { return type; }

            @Override
            @Deprecated
            public int getContentLength() { return body.length; }

            @Override
            public long contentLength() { return body.length; }

            @Override
            public InputStream getInputStream() { return new java.io.ByteArrayInputStream(body); }
        };
        Map<String, String> fields = new LinkedHashMap<>();
        List<Upload> files = new ArrayList<>();
        try {
            FileItemIterator it = upload.getItemIterator(ctx);
            int parts = 0;
            while (it.hasNext()) {
                FileItemStream item = it.next();
                if (++parts > MAX_PARTS) throw ApiException.invalid(null, "the form has more than " + MAX_PARTS + " parts");
                byte[] bytes;
                try (InputStream in = item.openStream()) {
                    bytes = in.readAllBytes();
                }
                if (item.isFormField()) fields.put(item.getFieldName(), new String(bytes, StandardCharsets.UTF_8));
                else files.add(new Upload(item.getFieldName(), item.getName(), bytes));
            }
        } catch (FileUploadException | org.apache.commons.fileupload.MultipartStream.MalformedStreamException e) {
            throw ApiException.invalid(null, "malformed multipart/form-data body: " + e.getMessage());
        }
        return new Form(fields, files);
    }
}
