package greeting;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** Prints the greeting the private artifact carries (greeting.txt on its classpath). */
public final class Main {
    public static void main(String[] args) throws Exception {
        try (InputStream in = Main.class.getResourceAsStream("/greeting.txt")) {
            System.out.print(in == null ? "no greeting\n" : new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }
}
