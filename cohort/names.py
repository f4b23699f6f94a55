"""Small in-code vocabularies for people and places (no Faker: fast and fully seed-determined)."""

from __future__ import annotations

from typing import NamedTuple


class RegionSpec(NamedTuple):
    state: str
    area: tuple[str, ...]
    weight: int
    hospital_cities: tuple[tuple[str, str], ...]  # (city, zip3)
    towns: tuple[tuple[str, str, int], ...]  # (town, zip3, weight)


MALE_FIRST = (
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel "
    "Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy "
    "Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin "
    "Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry "
    "Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy "
    "Christian Keith Roger Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse "
    "Jordan Bryan Billy Joe Bruce Gabriel Logan Albert Willie Alan Juan Wayne Elijah Randy Roy "
    "Vincent Ralph Eugene Russell Bobby Mason Philip Louis Luis Carlos Miguel Jorge Rafael "
    "Hector Ahmed Omar Tariq Wei Jun Hiroshi Kenji Raj Arjun Vikram Darnell Malik Andre Tyrone "
    "Dmitri Ivan Sergei Piotr Lars Anders Mateo Diego Francisco Manuel Antonio Ernesto Leroy "
    "Clarence Earl Howard Eddie Melvin Harvey Chester Floyd Herbert Lloyd Milton Otis Virgil"
).split()

FEMALE_FIRST = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty "
    "Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah "
    "Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma "
    "Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria "
    "Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan "
    "Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara "
    "Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris "
    "Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla "
    "Alexis Lori Rosa Guadalupe Carmen Lucia Esperanza Yolanda Mei Ling Yuki Keiko Priya Anjali "
    "Fatima Aisha Layla Latoya Keisha Tamika Ebony Olga Svetlana Ingrid Astrid Sofia Valentina "
    "Camila Mildred Edna Gladys Irene Hazel Ethel Bernice Lois Norma Agnes Thelma Florence"
).split()

FAMILY = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook "
    "Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward "
    "Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez "
    "Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan "
    "Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan "
    "Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant "
    "Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison "
    "Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker "
    "Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason "
    "Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox "
    "Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan "
    "Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos "
    "Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews "
    "Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis "
    "Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada Ortega Watkins Greene "
    "Nunez Wheeler Valdez Harper Burke Larson Santiago Maldonado Morrison Franklin Carlson "
    "Austin Dominguez Carr Lawson Jacobs O'Brien Lynch Singh Vega Bishop Montgomery Oliver "
    "Jensen Harvey Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy "
    "Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park Yang Little Banks "
    "Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez "
    "Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa Keller Avila "
    "Wade Molina Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert Miranda "
    "Byrd Craig Ayala Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes "
    "Shelton Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran Parks Steele "
    "Vaughn Becker Holt Deleon Barker Terry Hale Leon Hail Benson Haynes Horton Miles Lyons Pham "
    "Graves Bush Thornton Wolfe Warner Cabrera McKinney Mann Zimmerman Dawson Lara Fletcher "
    "Page McCarthy Love Robles Cervantes Solis Erickson Reeves Chang Klein Salinas Fuentes "
    "Baldwin Daniel Simon Velasquez Hardy Higgins Aguirre Lin Cummings Chandler Sharp Barber "
    "Bowen Ochoa Dennis Robbins Liu Ramsey Francis Griffith Paul Blair O'Connor Cardenas Pacheco "
    "Cross Calderon Quinn Moss Swanson Chan Rivas Khan Rodgers Serrano Fitzgerald Rosales Stevenson "
    "Christensen Manning Gill Curry McLaughlin Harmon McGee Gross Doyle Garner Newton Burgess "
    "Reese Walton Blake Trujillo Adkins Brady Goodman Roman Webster Goodwin Fischer Huang Potter "
    "Delacruz Montoya Todd Wu Hines Mullins Castaneda Malone Cannon Tate Mack Sherman Hubbard "
    "Hodges Zhang Guerra Wolf Valencia Saunders Franco Rowe Gallagher Farmer Hammond Hampton "
    "Townsend Ingram Wise Gallegos Clarke Barton Schroeder Maxwell Waters Logan Camacho Strickland "
    "Norman Person Colon Parsons Frank Harrington Glover Osborne Buchanan Casey Floyd Patton Ibarra "
    "Ball Tyler Suarez Bowers Orozco Salas Cobb Gibbs Andrade Bauer Conner Moody Escobar McGuire "
    "Lloyd Mueller Hartman French Kramer McBride Pope Lindsey Velazquez Norton McCormick Sparks "
    "Flynn Yates Hogan Marsh Macias Villanueva Zamora Pratt Stokes Owen Ballard Lang Brock "
    "Villarreal Charles Drake Barrera Cain Patrick Pineda Burnett Mercado Santana Shepherd Bautista "
    "Ali Shaffer Lamb Trevino McKenzie Hess Beil Olsen Cochran Morton Nash Wilkins Petersen Briggs "
    "Shah Roth Nicholson Holloway Lozano Flowers Rangel Hoover Arias Short Mora Valenzuela Bryan "
    "Meyers Weiss Underwood Bass Greer Summers Houston Carson Morrow Clayton Whitaker Decker Yoder "
    "Collier Zuniga Carey Wilcox Melendez Poole Roberson Larsen Conley Davenport Copeland Massey "
    "Lam Huff Rocha Cameron Jefferson Hood Monroe Anthony Pittman Huynh Randall Singleton Kirk "
    "Combs Mathis Christian Skinner Bradford Richard Galvan Wall Boone Kirby Wilkinson Bridges "
    "Bruce Atkinson Velez Meza Roy Vincent York Hodge Villa Abbott Allison Tapia Gates Chase "
    "Sosa Sweeney Farrell Wyatt Dalton Horn Barron Phelps Yu Dickerson Heath Foley Atkins Mathews "
    "Bonilla Acevedo Benitez Zavala Hensley Glenn Cisneros Harrell Shields Rubio Choi Huffman "
    "Boyer Garrison Arroyo Bond Kane Hancock Callahan Dillon Cline Wiggins Grimes Arellano Melton "
    "O'Neill Savage Ho Beltran Pitts Parrish Ponce Rich Booth Koch Golden Ware Brennan McDowell "
    "Marks Cantu Humphrey Baxter Sawyer Clay Tanner Hutchinson Kaur Berg Wiley Gilmore Russo "
    "Villegas Hobbs Keith Wilkerson Ahmed Beard McClain Montes Mata Rosario Vang Walter Henson "
    "O'Neal Mosley McClure Beasley Stephenson Snow Huerta Preston Vance Barry Johns Eaton Blackwell "
    "Dyer Prince Macdonald Solomon Guevara Stafford English Hurst Woodard Cortes Shannon Kemp "
    "Nolan McCullough Merritt Murillo Moon Salgado Strong Kline Cordova Barajas Roach Rosas "
    "Winters Jacobson Lester Knox Bullock Kerr Leach Meadows Orr Davila Whitehead Pruitt Kent "
    "Conway McKee Barr David Dejesus Marin Berger McIntyre Blankenship Gaines Palacios Cuevas "
    "Bartlett Durham Dorsey McCall O'Donnell Stein Browning Stout Lowery Sloan McLean Hendricks "
    "Calhoun Sexton Chung Gentry Hull Duarte Ellison Nielsen Gillespie Buck Middleton Sellers "
    "Leblanc Esparza Hardin Bradshaw McIntosh Howe Livingston Frost Glass Morse Knapp Herman "
    "Stark Bravo Noble Spears Weeks Corona Frederick Buckley McFarland Hebert Enriquez Hickman "
    "Quintero Randolph Schaefer Walls Trejo House Reilly Pennington Michael Conrad Giles Benjamin "
    "Crosby Fitzpatrick Donovan Mays Mahoney Valentine Raymond Medrano Hahn McMillan Small Bentley "
    "Felix Peck Lucero Boyle Hanna Pace Rush Hurley Harding McConnell Bernal Nava Ayers Everett "
    "Ventura Avery Pugh Mayer Bender Shepard McMahon Landry Case Sampson Moses Magana Blackburn "
    "Dunlap Gould Duffy Vaughan Herring McKay Espinosa Rivers Farley Bernard Ashley Friedman Potts "
    "Truong Costa Correa Blevins Nixon Clements Fry Delarosa Best Benton Lugo Portillo Dougherty "
    "Crane Haley Phan Villalobos Blanchard Horne Finley Quintana Lynn Esquivel Bean Dodson Mullen "
    "Xiong Hayden Cano Levy Huber Richmond Moyer Lim Frye Sheppard McCarty Avalos Booker Waller "
    "Parra Woodward Jaramillo Krueger Rasmussen Brandt Peralta Donaldson Stuart Faulkner Maynard "
    "Galindo Coffey Estes Sanford Burch Maddox Vo O'Connell Vu Andersen Spence McPherson Church "
    "Schmitt Stanton Leal Cherry Compton Dudley Sierra Pollard Alfaro Hester Proctor Lu Hinton "
    "Novak Good Madden McCann Terrell Jarvis Dickson Reyna Cantrell Mayo Branch Hendrix Rollins "
    "Rowland Whitney Duke Odom Daugherty Travis Tang Archer"
).split()

MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"

STREET_NAMES = (
    "Maple Oak Pine Cedar Elm Washington Lake Hill Park Main Church Spring Ridge Walnut Highland "
    "Sunset Chestnut River Meadow Forest Willow Lincoln Jackson Jefferson Franklin Madison Adams "
    "Center Mill Prospect Pleasant Union Cherry Birch Spruce Hickory Laurel Magnolia Dogwood "
    "Valley Summit Orchard Harbor Bay Brook Grove Fairview Greenwood Woodland Hillcrest Lakeview "
    "Riverside Mountain Cottage Garden Bridge School Academy Market Railroad Canal Depot Grant"
).split()
STREET_TYPES = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl", "Ter")
UNIT_TYPES = ("Apt", "Unit", "#")

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

SAINTS = (
    "Mary",
    "Joseph",
    "Luke",
    "Francis",
    "Vincent",
    "Anne",
    "Elizabeth",
    "John",
    "Catherine",
    "Jude",
)

#: Regions: state, area codes, hospital cities and residence towns (town, zip3/zip5 prefix, weight).
#: Town ZIPs starting with a HIPAA-restricted three-digit prefix are marked by their prefix only;
#: the five-digit code is completed at random.
REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        state="MA",
        area=("617", "508", "781"),
        weight=14,
        hospital_cities=(("Boston", "021"), ("Worcester", "016")),
        towns=(
            ("Boston", "021", 40),
            ("Cambridge", "021", 12),
            ("Quincy", "021", 10),
            ("Worcester", "016", 18),
            ("Framingham", "017", 10),
            ("Lowell", "018", 10),
        ),
    ),
    RegionSpec(
        state="NH",
        area=("603",),
        weight=5,
        hospital_cities=(("Manchester", "031"), ("Lebanon", "037")),
        towns=(
            ("Manchester", "031", 30),
            ("Nashua", "030", 25),
            ("Concord", "033", 15),
            ("Lebanon", "037", 12),
            ("Charlestown", "036", 10),
            ("Walpole", "036", 8),
        ),
    ),
    RegionSpec(
        state="VT",
        area=("802",),
        weight=3,
        hospital_cities=(("Burlington", "054"), ("St. Johnsbury", "058")),
        towns=(
            ("Burlington", "054", 35),
            ("Rutland", "057", 15),
            ("St. Johnsbury", "058", 12),
            ("Canaan", "059", 9),
            ("Beecher Falls", "059", 6),
            ("Montpelier", "056", 12),
        ),
    ),
    RegionSpec(
        state="CT",
        area=("860", "203"),
        weight=8,
        hospital_cities=(("Hartford", "061"), ("New London", "063")),
        towns=(
            ("Hartford", "061", 30),
            ("New Haven", "065", 25),
            ("New London", "063", 14),
            ("Groton", "063", 8),
            ("Waterbury", "067", 15),
        ),
    ),
    RegionSpec(
        state="NY",
        area=("212", "718", "518", "716"),
        weight=14,
        hospital_cities=(("New York", "100"), ("Albany", "122")),
        towns=(
            ("New York", "100", 40),
            ("New York", "102", 4),
            ("Brooklyn", "112", 25),
            ("Albany", "122", 12),
            ("Buffalo", "142", 14),
            ("Yonkers", "107", 8),
        ),
    ),
    RegionSpec(
        state="DC",
        area=("202",),
        weight=6,
        hospital_cities=(("Washington", "200"),),
        towns=(("Washington", "200", 60), ("Washington", "203", 6), ("Washington", "201", 10)),
    ),
    RegionSpec(
        state="MN",
        area=("612", "651", "218"),
        weight=8,
        hospital_cities=(("Minneapolis", "554"), ("Duluth", "558")),
        towns=(
            ("Minneapolis", "554", 35),
            ("St. Paul", "551", 25),
            ("Duluth", "558", 14),
            ("Grand Marais", "556", 7),
            ("Two Harbors", "556", 5),
            ("Rochester", "559", 14),
        ),
    ),
    RegionSpec(
        state="NE",
        area=("402", "308"),
        weight=5,
        hospital_cities=(("Omaha", "681"), ("North Platte", "691")),
        towns=(
            ("Omaha", "681", 40),
            ("Lincoln", "685", 30),
            ("North Platte", "691", 10),
            ("Valentine", "692", 6),
            ("Ainsworth", "692", 4),
        ),
    ),
    RegionSpec(
        state="TX",
        area=("806",),
        weight=6,
        hospital_cities=(("Amarillo", "791"), ("Lubbock", "794")),
        towns=(
            ("Amarillo", "791", 35),
            ("Lubbock", "794", 30),
            ("Pampa", "790", 9),
            ("Dalhart", "790", 5),
            ("Canyon", "790", 6),
        ),
    ),
    RegionSpec(
        state="WY",
        area=("307",),
        weight=4,
        hospital_cities=(("Casper", "826"), ("Cheyenne", "820")),
        towns=(
            ("Casper", "826", 25),
            ("Cheyenne", "820", 25),
            ("Rawlins", "823", 8),
            ("Jackson", "830", 9),
            ("Big Piney", "831", 5),
            ("Mammoth", "821", 3),
            ("Pinedale", "829", 5),
        ),
    ),
    RegionSpec(
        state="NM",
        area=("505", "575"),
        weight=5,
        hospital_cities=(("Albuquerque", "871"), ("Las Cruces", "880")),
        towns=(
            ("Albuquerque", "871", 40),
            ("Las Cruces", "880", 20),
            ("Socorro", "878", 7),
            ("Truth or Consequences", "879", 6),
            ("Tucumcari", "884", 5),
            ("Santa Fe", "875", 12),
        ),
    ),
    RegionSpec(
        state="NV",
        area=("775", "702"),
        weight=5,
        hospital_cities=(("Reno", "895"), ("Las Vegas", "891")),
        towns=(
            ("Reno", "895", 30),
            ("Las Vegas", "891", 35),
            ("Ely", "893", 6),
            ("Alamo", "890", 5),
            ("Carson City", "897", 10),
        ),
    ),
    RegionSpec(
        state="OH",
        area=("614", "216"),
        weight=10,
        hospital_cities=(("Columbus", "432"), ("Cleveland", "441")),
        towns=(
            ("Columbus", "432", 40),
            ("Cleveland", "441", 35),
            ("Dayton", "454", 15),
            ("Akron", "443", 12),
        ),
    ),
    RegionSpec(
        state="PA",
        area=("412", "215"),
        weight=7,
        hospital_cities=(("Pittsburgh", "152"), ("Philadelphia", "191")),
        towns=(
            ("Pittsburgh", "152", 35),
            ("Philadelphia", "191", 40),
            ("Erie", "165", 10),
            ("Altoona", "166", 8),
        ),
    ),
)

#: Three-digit ZIP prefixes that HIPAA Safe Harbor requires to be replaced by 000.
RESTRICTED_ZIP3 = frozenset(
    "036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893".split()
)

HOSPITAL_PATTERNS = (
    "{city} General Hospital",
    "St. {saint} Medical Center",
    "{city} Regional Medical Center",
    "Mercy Hospital of {city}",
    "University Hospital {city}",
    "{city} Memorial Hospital",
)
CLINIC_PATTERNS = (
    "{town} Family Medicine",
    "{town} Internal Medicine Associates",
    "{town} Primary Care",
    "{street} Street Health Center",
    "{town} Community Clinic",
)
